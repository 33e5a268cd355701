using System.Text;
using LlmKit.Scoring;

namespace LlmKit.Plugins.Compression;

/// <content>The token-level pass: iterative scoring, per-segment selection, calibration in real tokens.</content>
public sealed partial class PromptCompressor
{
    private async Task<(string Text, int Segments)> PruneTokensAsync(AssembledPrompt prompt, CompressionTarget target, int? targetTokens, CancellationToken cancellationToken)
    {
        TokenizedText tokens = TokenizedText.Create(Scorer.Tokenizer, prompt.Text);
        int n = tokens.Count;
        if (n == 0)
        {
            return (prompt.Text, 0);
        }

        bool[] forced = MarkForcedTokens(tokens, prompt);
        int forcedCount = forced.Count(f => f);
        int prunable = n - forcedCount;

        // Fraction of prunable tokens to keep while iterating, estimated in scorer tokens; calibration fixes it afterwards.
        double keepFraction = 1;
        if (targetTokens is int budget)
        {
            int counted = Math.Max(1, CountTokens(prompt.Text));
            double budgetInScorerTokens = budget * (double)n / counted;
            keepFraction = prunable == 0 ? 1 : Math.Clamp((budgetInScorerTokens - forcedCount) / prunable, 0, 1);
        }

        double maxSelfInformation = target.Kind == CompressionTargetKind.ProbabilityThreshold ? -Math.Log(target.Value) : double.NaN;
        var selfInformation = new float[n];
        var keep = new bool[n];
        int[] segmentOf = new int[n];

        int segmentLength = Math.Clamp(Options.SegmentTokens, 1, Math.Max(1, Scorer.MaxSequenceLength - 2));
        int maxContext = (int)Math.Clamp((long)Scorer.MaxSequenceLength - 1 - segmentLength, 0, Options.MaxConditioningTokens);
        var prefix = new int[n];
        int prefixLength = 0;
        int segmentCount = (n + segmentLength - 1) / segmentLength;
        for (int segment = 0; segment < segmentCount; segment++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int start = segment * segmentLength;
            int length = Math.Min(segmentLength, n - start);
            int contextLength = Math.Min(prefixLength, maxContext);
            float[] logProbabilities;
            try
            {
                logProbabilities = await Scorer.ScoreTokensAsync(
                    new ArraySegment<int>(prefix, prefixLength - contextLength, contextLength),
                    new ArraySegment<int>(tokens.Ids, start, length),
                    cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                throw new PromptCompressionException(
                    $"Scoring segment {segment} of {segmentCount} (tokens {start}..{start + length - 1} of {n}) failed: {ex.Message}", ex)
                { SegmentIndex = segment };
            }

            if (logProbabilities.Length != length)
            {
                throw new PromptCompressionException(
                    $"Scoring segment {segment} of {segmentCount} returned {logProbabilities.Length} log-probabilities for {length} tokens.")
                { SegmentIndex = segment };
            }

            for (int i = 0; i < length; i++)
            {
                selfInformation[start + i] = -logProbabilities[i];
                segmentOf[start + i] = segment;
            }

            SelectInSegment(start, length, forced, selfInformation, keep, keepFraction, maxSelfInformation);
            for (int i = start; i < start + length; i++)
            {
                if (keep[i])
                {
                    prefix[prefixLength++] = tokens.Ids[i];
                }
            }
        }

        if (targetTokens is int goal)
        {
            keep = Calibrate(tokens, forced, selfInformation, segmentOf, goal, target.Kind == CompressionTargetKind.Rate);
        }

        return (KeptText(tokens, keep), segmentCount);
    }

    private bool[] MarkForcedTokens(TokenizedText tokens, AssembledPrompt prompt)
    {
        bool[] forcedCharacters = _forced.Mark(prompt.Text);
        var forced = new bool[tokens.Count];
        for (int i = 0; i < tokens.Count; i++)
        {
            int start = tokens.Starts[i];
            int end = tokens.End(i);
            bool keepIt = end == start; // a token standing for no original character (e.g. a dummy prefix) costs nothing to keep
            for (int c = start; c < end && !keepIt; c++)
            {
                keepIt = forcedCharacters[c] || prompt.Verbatim[c];
            }

            forced[i] = keepIt;
        }

        return forced;
    }

    /// <summary>Keeps the forced tokens and, among the rest, the most surprising ones of the segment.</summary>
    internal static void SelectInSegment(int start, int length, bool[] forced, float[] selfInformation, bool[] keep, double keepFraction, double maxSelfInformation)
    {
        if (!double.IsNaN(maxSelfInformation))
        {
            for (int i = start; i < start + length; i++)
            {
                keep[i] = forced[i] || selfInformation[i] > maxSelfInformation;
            }

            return;
        }

        var candidates = new List<int>(length);
        for (int i = start; i < start + length; i++)
        {
            keep[i] = forced[i];
            if (!forced[i])
            {
                candidates.Add(i);
            }
        }

        int quota = (int)Math.Round(keepFraction * candidates.Count, MidpointRounding.AwayFromZero);
        candidates.Sort((a, b) => selfInformation[b] != selfInformation[a] ? selfInformation[b].CompareTo(selfInformation[a]) : a.CompareTo(b));
        for (int j = 0; j < quota; j++)
        {
            keep[candidates[j]] = true;
        }
    }

    /// <summary>
    /// Orders prunable tokens by their rank within their own segment (most surprising first), so keeping the first K
    /// spreads the budget evenly over segments, then finds the K whose kept text has the target count in real tokens.
    /// </summary>
    private bool[] Calibrate(TokenizedText tokens, bool[] forced, float[] selfInformation, int[] segmentOf, int goal, bool closest)
    {
        int n = tokens.Count;
        var rankKey = new double[n];
        var order = new List<int>(n);
        int segmentStart = 0;
        while (segmentStart < n)
        {
            int segmentEnd = segmentStart;
            while (segmentEnd < n && segmentOf[segmentEnd] == segmentOf[segmentStart])
            {
                segmentEnd++;
            }

            var candidates = new List<int>();
            for (int i = segmentStart; i < segmentEnd; i++)
            {
                if (!forced[i])
                {
                    candidates.Add(i);
                }
            }

            candidates.Sort((a, b) => selfInformation[b] != selfInformation[a] ? selfInformation[b].CompareTo(selfInformation[a]) : a.CompareTo(b));
            for (int j = 0; j < candidates.Count; j++)
            {
                rankKey[candidates[j]] = (j + 0.5) / candidates.Count;
            }

            order.AddRange(candidates);
            segmentStart = segmentEnd;
        }

        order.Sort((a, b) =>
        {
            int byRank = rankKey[a].CompareTo(rankKey[b]);
            if (byRank != 0)
            {
                return byRank;
            }

            int bySurprise = selfInformation[b].CompareTo(selfInformation[a]);
            return bySurprise != 0 ? bySurprise : a.CompareTo(b);
        });

        var counts = new Dictionary<int, int>();
        int CountWith(int k)
        {
            if (!counts.TryGetValue(k, out int count))
            {
                count = CountTokens(KeptText(tokens, Mask(forced, order, k)));
                counts[k] = count;
            }

            return count;
        }

        // Largest K whose text fits the goal (the count grows with K, up to re-tokenisation noise).
        int low = 0;
        int high = order.Count;
        while (low < high)
        {
            int middle = (low + high + 1) / 2;
            if (CountWith(middle) <= goal)
            {
                low = middle;
            }
            else
            {
                high = middle - 1;
            }
        }

        if (closest && low < order.Count && Math.Abs(CountWith(low + 1) - goal) < Math.Abs(CountWith(low) - goal))
        {
            low++;
        }

        return Mask(forced, order, low);
    }

    private static bool[] Mask(bool[] forced, List<int> order, int k)
    {
        var keep = (bool[])forced.Clone();
        for (int j = 0; j < k; j++)
        {
            keep[order[j]] = true;
        }

        return keep;
    }

    /// <summary>Concatenates the kept tokens' spans; where a dropped token carried the space before a word, one space is kept so words do not fuse.</summary>
    internal static string KeptText(TokenizedText tokens, bool[] keep)
    {
        string text = tokens.Text;
        var builder = new StringBuilder(text.Length);
        bool pendingSpace = false;
        for (int i = 0; i < tokens.Count; i++)
        {
            int start = tokens.Starts[i];
            int end = tokens.End(i);
            if (end == start)
            {
                continue;
            }

            if (!keep[i])
            {
                pendingSpace |= char.IsWhiteSpace(text[start]);
                continue;
            }

            if (pendingSpace && builder.Length > 0 && !char.IsWhiteSpace(text[start]) && !char.IsWhiteSpace(builder[^1]))
            {
                builder.Append(' ');
            }

            pendingSpace = false;
            builder.Append(text, start, end - start);
        }

        return builder.ToString();
    }
}
