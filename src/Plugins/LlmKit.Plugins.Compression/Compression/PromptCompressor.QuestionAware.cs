using System.Numerics.Tensors;
using System.Text;
using LlmKit.Plugins.Compression.Scoring;
using Microsoft.Extensions.AI;

namespace LlmKit.Plugins.Compression;

/// <content>The question-aware coarse stage: segments ranked against the question, budget allocated by rank.</content>
public sealed partial class PromptCompressor
{
    /// <summary>Ranks segments against the question, drops the lowest-ranked ones (keeping their force-kept characters) and returns the reduced contexts with per-character priorities.</summary>
    private async Task<(List<string> Contexts, List<float[]> Priorities, List<bool[]> Forced, int Segments)> SelectSegmentsAsync(
        PromptParts prompt, int[] keptContexts, string query, int targetTokens, CancellationToken cancellationToken)
    {
        int fixedTokens = (Options.CompressInstruction ? 0 : CountTokens(prompt.Instruction)) + (Options.CompressQuestion ? 0 : CountTokens(prompt.Question));
        var segments = new List<(int Context, int Start, int End)>();
        var texts = new List<string>();
        var forcedMarks = new List<bool[]>(keptContexts.Length);
        var forcedText = new StringBuilder();
        foreach (int c in keptContexts)
        {
            string context = prompt.Contexts[c];
            bool[] marks = _forced.Mark(context);
            forcedMarks.Add(marks);
            for (int i = 0; i < context.Length; i++)
            {
                if (marks[i] && context[i] != '\n')
                {
                    if (i > 0 && !marks[i - 1] && forcedText.Length > 0)
                    {
                        forcedText.Append(' ');
                    }

                    forcedText.Append(context[i]);
                }
            }

            foreach ((int start, int end) in TextSegments.Split(context, Options.MaxSegmentCharacters))
            {
                segments.Add((c, start, end));
                texts.Add(context[start..end]);
            }
        }

        // Force-kept characters survive wherever they are, so the budget for whole segments is what they leave.
        double contextBudget = Math.Max(1, targetTokens - fixedTokens - CountTokens(forcedText.ToString()));
        double keepBudget = contextBudget * Options.SegmentRetention;

        double[] relevance = await RankAsync(query, texts, cancellationToken).ConfigureAwait(false);
        int[] order = Enumerable.Range(0, texts.Count).OrderByDescending(i => relevance[i]).ThenBy(i => i).ToArray();

        // Keep segments in rank order up to the retained budget. The top ones that fit TopSegmentShare of the budget
        // are kept whole first (priority 0); the others' units are ranked by surprise scaled by (rank + 1) / M, so
        // lower-ranked segments lose more (LongLLMLingua's rank-dependent compression ratio). Dropped: -1.
        var priorityOf = new float[texts.Count];
        Array.Fill(priorityOf, -1f);
        var kept = new List<int>();
        var tokens = new List<int>();
        double used = 0;
        foreach (int s in order)
        {
            if (used >= keepBudget && kept.Count > 0)
            {
                break;
            }

            int count = CountTokens(texts[s]);
            kept.Add(s);
            tokens.Add(count);
            used += count;
        }

        double whole = 0;
        bool topPhase = true;
        for (int r = 0; r < kept.Count; r++)
        {
            topPhase &= r == 0 ? tokens[r] <= contextBudget : whole + tokens[r] <= contextBudget * Options.TopSegmentShare;
            whole += tokens[r];
            priorityOf[kept[r]] = topPhase ? 0f : (float)(r + 1) / kept.Count;
        }

        var contexts = new List<string>(keptContexts.Length);
        var priorities = new List<float[]>(keptContexts.Length);
        var forcedMasks = new List<bool[]>(keptContexts.Length);
        int next = 0;
        for (int k = 0; k < keptContexts.Length; k++)
        {
            int c = keptContexts[k];
            string context = prompt.Contexts[c];
            bool[] forced = forcedMarks[k];
            var keep = new bool[context.Length];
            var priority = new float[context.Length];
            for (; next < segments.Count && segments[next].Context == c; next++)
            {
                (_, int start, int end) = segments[next];
                bool segmentKept = priorityOf[next] >= 0;
                for (int i = start; i < end; i++)
                {
                    // A dropped segment still keeps its force-kept characters (numbers, roles, patterns), not its line breaks.
                    keep[i] = segmentKept || (forced[i] && context[i] != '\n');
                    priority[i] = segmentKept ? priorityOf[next] : 1;
                }
            }

            KeepLineBreaksOfKeptLines(context, keep);
            (string reduced, float[] reducedPriority, bool[] reducedForced) = Join(context, keep, priority, forced);
            contexts.Add(reduced);
            priorities.Add(reducedPriority);
            forcedMasks.Add(reducedForced);
        }

        return (contexts, priorities, forcedMasks, texts.Count);
    }

    /// <summary>A line break survives when its line keeps any visible character.</summary>
    private static void KeepLineBreaksOfKeptLines(string text, bool[] keep)
    {
        bool visible = false;
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] == '\n')
            {
                keep[i] |= visible;
                visible = false;
            }
            else if (keep[i] && !char.IsWhiteSpace(text[i]))
            {
                visible = true;
            }
        }
    }

    /// <summary>The kept characters; a space is inserted where a gap would fuse two words.</summary>
    private static (string Text, float[] Priority, bool[] Forced) Join(string text, bool[] keep, float[] priority, bool[] forced)
    {
        var builder = new StringBuilder(text.Length);
        var values = new List<float>(text.Length);
        var flags = new List<bool>(text.Length);
        bool gap = false;
        for (int i = 0; i < text.Length; i++)
        {
            if (!keep[i])
            {
                gap = builder.Length > 0;
                continue;
            }

            if (gap && !char.IsWhiteSpace(builder[^1]) && !char.IsWhiteSpace(text[i]))
            {
                builder.Append(' ');
                values.Add(priority[i]);
                flags.Add(false);
            }
            else if (gap && char.IsWhiteSpace(builder[^1]) && text[i] == ' ')
            {
                gap = false;
                continue;
            }

            gap = false;
            builder.Append(text[i]);
            values.Add(priority[i]);
            flags.Add(forced[i]);
        }

        return (builder.ToString(), [.. values], [.. flags]);
    }

    /// <summary>Relevance of each segment to the query (higher is more relevant), by <see cref="PromptCompressionOptions.SegmentRanking"/>.</summary>
    internal async Task<double[]> RankAsync(string query, List<string> segments, CancellationToken cancellationToken)
    {
        SegmentRanking ranking = Options.SegmentRanking;
        if (ranking == SegmentRanking.Auto)
        {
            ranking = _embeddings is not null ? SegmentRanking.Embedding
                : Scorer is StatisticalTokenScorer ? SegmentRanking.Bm25
                : SegmentRanking.LogProbabilityAndBm25;
        }

        switch (ranking)
        {
            case SegmentRanking.Bm25:
                return Bm25Ranker.Score(query, segments);
            case SegmentRanking.Embedding:
                return await EmbeddingSimilarityAsync(query, segments, cancellationToken).ConfigureAwait(false);
            case SegmentRanking.LogProbability:
                return await QuestionLogProbabilityAsync(query, segments, cancellationToken).ConfigureAwait(false);
            default:
                double[] lexical = Bm25Ranker.Score(query, segments);
                double[] model = await QuestionLogProbabilityAsync(query, segments, cancellationToken).ConfigureAwait(false);
                return Fuse(lexical, model);
        }
    }

    /// <summary>
    /// Score fusion: the sum over rankers of each score's z-score (distance from the mean in standard deviations), so
    /// a ranker that singles one segment out (BM25 on shared rare words) decides, and a ranker that sees no difference
    /// (BM25 when the question shares no word; standard deviation 0) adds nothing.
    /// </summary>
    internal static double[] Fuse(params double[][] scores)
    {
        var fused = new double[scores[0].Length];
        foreach (double[] values in scores)
        {
            double mean = 0;
            int finite = 0;
            foreach (double value in values)
            {
                if (double.IsFinite(value))
                {
                    mean += value;
                    finite++;
                }
            }

            if (finite < 2)
            {
                continue;
            }

            mean /= finite;
            double variance = 0;
            foreach (double value in values)
            {
                variance += double.IsFinite(value) ? (value - mean) * (value - mean) : 0;
            }

            double deviation = Math.Sqrt(variance / finite);
            if (deviation <= 1e-12)
            {
                continue;
            }

            for (int i = 0; i < values.Length; i++)
            {
                fused[i] += double.IsFinite(values[i]) ? (values[i] - mean) / deviation : -10;
            }
        }

        return fused;
    }

    /// <summary>
    /// Mean log P(query | text) per text (one scorer call each; the text's end is kept when it and the query do not fit):
    /// the coarse stage ranks contexts with it, the question-aware stage segments. <paramref name="unit"/> names a text in errors.
    /// </summary>
    private async Task<double[]> QuestionLogProbabilityAsync(string query, IReadOnlyList<string> segments, CancellationToken cancellationToken, string unit = "segment")
    {
        int[] question = TokenizedText.Create(Scorer.Tokenizer, query).Ids;
        int room = Scorer.MaxSequenceLength - 1;
        if (question.Length > room / 2)
        {
            question = question[..(room / 2)];
        }

        var scores = new double[segments.Count];
        if (question.Length == 0)
        {
            return scores;
        }

        for (int i = 0; i < segments.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int[] context = TokenizedText.Create(Scorer.Tokenizer, segments[i]).Ids;
            int contextRoom = Math.Min(context.Length, room - question.Length);
            float[] logProbabilities;
            try
            {
                logProbabilities = await Scorer.ScoreTokensAsync(new ArraySegment<int>(context, context.Length - contextRoom, contextRoom), question, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                throw new PromptCompressionException($"Ranking {unit} {i} of {segments.Count} against the question failed: {ex.Message}", ex) { SegmentIndex = i };
            }

            double sum = 0;
            foreach (float value in logProbabilities)
            {
                sum += value;
            }

            scores[i] = logProbabilities.Length == 0 ? double.NegativeInfinity : sum / logProbabilities.Length;
        }

        return scores;
    }

    /// <summary>Cosine similarity of each segment's embedding to the query's.</summary>
    private async Task<double[]> EmbeddingSimilarityAsync(string query, List<string> segments, CancellationToken cancellationToken)
    {
        IEmbeddingGenerator<string, Embedding<float>> generator = _embeddings
            ?? throw new InvalidOperationException("SegmentRanking.Embedding needs an embedding generator: pass one to the PromptCompressor constructor, or choose Auto, Bm25 or LogProbability.");
        GeneratedEmbeddings<Embedding<float>> embeddings;
        try
        {
            embeddings = await generator.GenerateAsync([query, .. segments], cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new PromptCompressionException($"Embedding the question and {segments.Count} segments for ranking failed: {ex.Message}", ex);
        }

        if (embeddings.Count != segments.Count + 1)
        {
            throw new PromptCompressionException($"The embedding generator returned {embeddings.Count} embeddings for {segments.Count + 1} inputs.");
        }

        ReadOnlySpan<float> question = embeddings[0].Vector.Span;
        var scores = new double[segments.Count];
        for (int i = 0; i < segments.Count; i++)
        {
            ReadOnlySpan<float> segment = embeddings[i + 1].Vector.Span;
            scores[i] = segment.Length == question.Length ? TensorPrimitives.CosineSimilarity(question, segment) : double.NegativeInfinity;
        }

        return scores;
    }
}
