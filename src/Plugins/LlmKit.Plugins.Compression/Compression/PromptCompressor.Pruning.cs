using System.Text;

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

        PruningUnits units = PruningUnits.Create(tokens, MarkForcedTokens(tokens, prompt), Options.PruneWholeWords);
        int forcedCount = units.ForcedTokenCount;
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
        var keepUnit = new bool[units.Count];

        int segmentLength = Math.Clamp(Options.SegmentTokens, 1, Math.Max(1, Scorer.MaxSequenceLength - 2));
        int maxContext = (int)Math.Clamp((long)Scorer.MaxSequenceLength - 1 - segmentLength, 0, Options.MaxConditioningTokens);
        List<(int FirstUnit, int UnitCount)> segments = units.Segments(segmentLength);
        var prefix = new int[n];
        int prefixLength = 0;
        for (int segment = 0; segment < segments.Count; segment++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            (int firstUnit, int unitCount) = segments[segment];
            int start = units.Start(firstUnit);
            int length = units.End(firstUnit + unitCount - 1) - start;
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
                    $"Scoring segment {segment} of {segments.Count} (tokens {start}..{start + length - 1} of {n}) failed: {ex.Message}", ex)
                { SegmentIndex = segment };
            }

            if (logProbabilities.Length != length)
            {
                throw new PromptCompressionException(
                    $"Scoring segment {segment} of {segments.Count} returned {logProbabilities.Length} log-probabilities for {length} tokens.")
                { SegmentIndex = segment };
            }

            for (int i = 0; i < length; i++)
            {
                selfInformation[start + i] = -logProbabilities[i];
            }

            units.SelectInSegment(firstUnit, unitCount, selfInformation, keepUnit, keepFraction, maxSelfInformation);
            for (int u = firstUnit; u < firstUnit + unitCount; u++)
            {
                if (keepUnit[u])
                {
                    for (int i = units.Start(u); i < units.End(u); i++)
                    {
                        prefix[prefixLength++] = tokens.Ids[i];
                    }
                }
            }
        }

        if (targetTokens is int goal)
        {
            keepUnit = Calibrate(tokens, units, segments, selfInformation, goal, target.Kind == CompressionTargetKind.Rate, UnitPriorities(tokens, units, prompt.Priority));
        }

        return (KeptText(tokens, units.TokenMask(keepUnit)), segments.Count);
    }

    /// <summary>Per unit, the priority scale of its first visible character (null when segments were not ranked).</summary>
    private static float[]? UnitPriorities(TokenizedText tokens, PruningUnits units, float[]? characterPriority)
    {
        if (characterPriority is null)
        {
            return null;
        }

        var priority = new float[units.Count];
        for (int u = 0; u < units.Count; u++)
        {
            // The priority of the unit's first visible character (its leading space belongs to the previous segment).
            float value = 1;
            int to = tokens.End(units.End(u) - 1);
            for (int c = tokens.Starts[units.Start(u)]; c < to; c++)
            {
                if (!char.IsWhiteSpace(tokens.Text[c]))
                {
                    value = characterPriority[c];
                    break;
                }
            }

            priority[u] = value;
        }

        return priority;
    }

    private bool[] MarkForcedTokens(TokenizedText tokens, AssembledPrompt prompt)
    {
        bool[] forcedCharacters = prompt.Forced ?? _forced.Mark(prompt.Text);
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

    /// <summary>
    /// Orders prunable units by their rank within their own segment (most surprising first), so keeping the first K
    /// spreads the budget evenly over segments, then finds the K whose kept text has the target count in real tokens.
    /// </summary>
    private bool[] Calibrate(TokenizedText tokens, PruningUnits units, List<(int FirstUnit, int UnitCount)> segments, float[] selfInformation, int goal, bool closest, float[]? priority)
    {
        var rankKey = new double[units.Count];
        var value = new double[units.Count];
        var order = new List<int>(units.Count);
        foreach ((int firstUnit, int unitCount) in segments)
        {
            List<int> ranked = units.RankPrunable(firstUnit, unitCount, selfInformation);
            for (int j = 0; j < ranked.Count; j++)
            {
                rankKey[ranked[j]] = (j + 0.5) / ranked.Count * (priority is null ? 1 : priority[ranked[j]]);
                value[ranked[j]] = units.MeanSelfInformation(ranked[j], selfInformation);
            }

            order.AddRange(ranked);
        }

        order.Sort((a, b) =>
        {
            int byRank = rankKey[a].CompareTo(rankKey[b]);
            if (byRank != 0)
            {
                return byRank;
            }

            int bySurprise = value[b].CompareTo(value[a]);
            return bySurprise != 0 ? bySurprise : a.CompareTo(b);
        });

        var counts = new Dictionary<int, int>();
        int CountWith(int k)
        {
            if (!counts.TryGetValue(k, out int count))
            {
                count = CountTokens(KeptText(tokens, units.TokenMask(units.KeepFirst(order, k))));
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

        bool[] keep = units.KeepFirst(order, low);
        int count = CountWith(low);

        // Whole words cost several tokens: fill the remaining slack with the next-ranked units that still fit.
        int bestExtra = -1;
        int bestExtraCount = int.MaxValue;
        for (int j = low; j < order.Count && count < goal && j < low + MaxFillAttempts; j++)
        {
            keep[order[j]] = true;
            int withUnit = CountTokens(KeptText(tokens, units.TokenMask(keep)));
            if (withUnit <= goal)
            {
                count = withUnit;
                continue;
            }

            keep[order[j]] = false;
            if (withUnit < bestExtraCount)
            {
                (bestExtra, bestExtraCount) = (order[j], withUnit);
            }
        }

        // Rate mode aims at the closest count, so one unit over the goal may be better than the slack left.
        if (closest && bestExtra >= 0 && bestExtraCount - goal < goal - count)
        {
            keep[bestExtra] = true;
        }

        return keep;
    }

    private const int MaxFillAttempts = 48;

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

            bool endsWithSpace = builder.Length > 0 && builder[^1] == ' ';
            if (pendingSpace && builder.Length > 0 && char.IsLetterOrDigit(text[start]) && !char.IsWhiteSpace(builder[^1]))
            {
                // Words must not fuse where the dropped token carried the space between them (punctuation stays attached).
                builder.Append(' ');
            }
            else if (endsWithSpace)
            {
                // No double spaces where the dropped text sat between two spaces.
                while (start < end && text[start] == ' ')
                {
                    start++;
                }
            }

            pendingSpace = false;
            builder.Append(text, start, end - start);
        }

        return builder.ToString();
    }
}
