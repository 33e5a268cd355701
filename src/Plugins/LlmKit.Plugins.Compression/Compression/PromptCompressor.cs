using System.Diagnostics;
using System.Text;
using LlmKit.Scoring;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.Tokenizers;

namespace LlmKit.Plugins.Compression;

/// <summary>
/// LLMLingua-style prompt compression: a budget split across instruction, contexts and question; coarse ranking that
/// drops whole contexts by log P(question | context); then segment-by-segment pruning of the tokens with the lowest
/// self-information (−log p) under an <see cref="ITokenScorer"/>, each segment conditioned on the already-compressed
/// prefix (windowed, so texts longer than the scorer's context work). The kept count is calibrated in the target
/// model's real tokens.
/// </summary>
/// <remarks>Thread-safe: the compressor holds no per-call state (the scorer must be thread-safe, as <see cref="ITokenScorer"/> requires).</remarks>
public sealed partial class PromptCompressor
{
    private readonly ForcedCharacters _forced;
    private readonly TokenCounter _counter;
    private readonly ILogger _logger;
    private readonly IEmbeddingGenerator<string, Embedding<float>>? _embeddings;

    /// <summary>Creates a compressor.</summary>
    /// <param name="scorer">Scores tokens; its tokenizer defines the pruning units.</param>
    /// <param name="options">Options (copied); null for defaults.</param>
    /// <param name="targetTokenizer">Tokenizer of the model that will read the prompt, for counting; null to count with the scorer's tokenizer.</param>
    /// <param name="logger">Logger; null for none.</param>
    /// <exception cref="ArgumentNullException"><paramref name="scorer"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is invalid (see <see cref="PromptCompressionOptions.Validate"/>).</exception>
    public PromptCompressor(ITokenScorer scorer, PromptCompressionOptions? options = null, Tokenizer? targetTokenizer = null, ILogger<PromptCompressor>? logger = null)
        : this(scorer, embeddings: null, options, targetTokenizer, logger)
    {
    }

    /// <summary>Creates a compressor that can rank segments by embedding similarity (<see cref="SegmentRanking.Embedding"/>, and <see cref="SegmentRanking.Auto"/> when given).</summary>
    /// <param name="scorer">Scores tokens; its tokenizer defines the pruning units.</param>
    /// <param name="embeddings">Embeds the question and the segments for question-aware ranking; null for none.</param>
    /// <param name="options">Options (copied); null for defaults.</param>
    /// <param name="targetTokenizer">Tokenizer of the model that will read the prompt, for counting; null to count with the scorer's tokenizer.</param>
    /// <param name="logger">Logger; null for none.</param>
    /// <exception cref="ArgumentNullException"><paramref name="scorer"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is invalid (see <see cref="PromptCompressionOptions.Validate"/>).</exception>
    public PromptCompressor(ITokenScorer scorer, IEmbeddingGenerator<string, Embedding<float>>? embeddings, PromptCompressionOptions? options = null, Tokenizer? targetTokenizer = null, ILogger<PromptCompressor>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(scorer);
        Options = options?.Clone() ?? new PromptCompressionOptions();
        Options.Validate();
        Scorer = scorer;
        TargetTokenizer = targetTokenizer ?? scorer.Tokenizer;
        _counter = new TokenCounter(TargetTokenizer);
        _forced = new ForcedCharacters(Options);
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _embeddings = embeddings;
    }

    /// <summary>The scorer whose log-probabilities drive pruning.</summary>
    public ITokenScorer Scorer { get; }

    /// <summary>The tokenizer budgets and statistics are counted in.</summary>
    public Tokenizer TargetTokenizer { get; }

    /// <summary>The compressor's options (a private copy; changing it after construction has no effect on force-keep rules).</summary>
    public PromptCompressionOptions Options { get; }

    /// <summary>Counts <paramref name="text"/>'s tokens with <see cref="TargetTokenizer"/>.</summary>
    /// <remarks>
    /// Exact. For SentencePiece vocabularies whose pieces never contain a space after their first character,
    /// space-separated chunks are counted once and cached, which is much faster on long or repeated text.
    /// </remarks>
    /// <param name="text">Text to count; null or empty counts 0.</param>
    public int CountTokens(string? text) => _counter.Count(text);

    /// <summary>Compresses one text (treated as a single context).</summary>
    /// <param name="text">The prompt; empty returns empty.</param>
    /// <param name="target">How much to keep.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="PromptCompressionException">The scorer failed; the message names the segment.</exception>
    public Task<CompressionResult> CompressAsync(string text, CompressionTarget target, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        return CompressAsync(PromptParts.FromText(text), target, cancellationToken);
    }

    /// <summary>Compresses an instruction / contexts / question prompt.</summary>
    /// <param name="prompt">The prompt parts.</param>
    /// <param name="target">How much to keep.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The compressed text with token counts and timing. A prompt already within the target is returned unchanged.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A context is null.</exception>
    /// <exception cref="PromptCompressionException">The scorer failed; the message names the segment or context.</exception>
    public async Task<CompressionResult> CompressAsync(PromptParts prompt, CompressionTarget target, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(prompt.Contexts, nameof(prompt) + ".Contexts");
        for (int i = 0; i < prompt.Contexts.Count; i++)
        {
            if (prompt.Contexts[i] is null)
            {
                throw new ArgumentException($"Context {i} is null.", nameof(prompt));
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        using Activity? activity = CompressionTelemetry.ActivitySource.StartActivity("compress");
        var clock = Stopwatch.StartNew();
        int[] allContexts = Enumerable.Range(0, prompt.Contexts.Count).ToArray();
        AssembledPrompt original = AssembledPrompt.Build(prompt, allContexts, Options);
        int originalTokens = CountTokens(original.Text);
        int? targetTokens = target.Kind switch
        {
            CompressionTargetKind.Rate => Math.Max(1, (int)Math.Round(target.Value * originalTokens, MidpointRounding.AwayFromZero)),
            CompressionTargetKind.Tokens => (int)target.Value,
            _ => null,
        };

        if (originalTokens == 0 || (targetTokens is int t && t >= originalTokens))
        {
            return Finish(original.Text, originalTokens, originalTokens, targetTokens, allContexts, 0, clock, activity);
        }

        int[] keptContexts = allContexts;
        if (targetTokens is int budget && Options.RankContexts && prompt.Contexts.Count > 1 && !string.IsNullOrWhiteSpace(prompt.Question))
        {
            keptContexts = await SelectContextsAsync(prompt, budget, cancellationToken).ConfigureAwait(false);
        }

        AssembledPrompt assembled = keptContexts.Length == allContexts.Length ? original : AssembledPrompt.Build(prompt, keptContexts, Options);
        int ranked = 0;
        string? query = string.IsNullOrWhiteSpace(prompt.Query) ? prompt.Question : prompt.Query;
        if (targetTokens is int goal && Options.RankSegments && !string.IsNullOrWhiteSpace(query) && keptContexts.Length > 0)
        {
            (List<string> contexts, List<float[]> priorities, List<bool[]> forced, ranked) = await SelectSegmentsAsync(prompt, keptContexts, query, goal, cancellationToken).ConfigureAwait(false);
            assembled = AssembledPrompt.Build(prompt, keptContexts, Options, contexts, priorities);
            bool[] marks = _forced.Mark(assembled.Text);
            for (int k = 0; k < contexts.Count; k++)
            {
                if (assembled.ContextStarts[k] >= 0)
                {
                    Array.Copy(forced[k], 0, marks, assembled.ContextStarts[k], forced[k].Length);
                }
            }

            assembled.Forced = marks;
            if (CountTokens(assembled.Text) <= goal)
            {
                return Finish(assembled.Text, originalTokens, CountTokens(assembled.Text), targetTokens, keptContexts, 0, clock, activity);
            }
        }

        (string text, int segments) = await PruneTokensAsync(assembled, target, targetTokens, cancellationToken).ConfigureAwait(false);
        activity?.SetTag("llmkit.compression.ranked_segments", ranked);
        return Finish(text, originalTokens, CountTokens(text), targetTokens, keptContexts, segments, clock, activity);
    }

    private CompressionResult Finish(string text, int originalTokens, int compressedTokens, int? targetTokens, int[] keptContexts, int segments, Stopwatch clock, Activity? activity)
    {
        clock.Stop();
        CompressionTelemetry.InputTokens.Add(originalTokens);
        CompressionTelemetry.OutputTokens.Add(compressedTokens);
        CompressionTelemetry.Duration.Record(clock.Elapsed.TotalMilliseconds);
        activity?.SetTag("llmkit.compression.input_tokens", originalTokens);
        activity?.SetTag("llmkit.compression.output_tokens", compressedTokens);
        var result = new CompressionResult(text, originalTokens, compressedTokens, targetTokens, keptContexts, segments, clock.Elapsed);
        if (!result.TargetMet)
        {
            LogTargetMissed(originalTokens, compressedTokens, targetTokens ?? 0);
        }
        else
        {
            LogCompressed(originalTokens, compressedTokens, segments, clock.Elapsed.TotalMilliseconds);
        }

        return result;
    }

    /// <summary>Coarse stage: rank contexts by mean log P(question | context) and keep the best within the coarse budget.</summary>
    private async Task<int[]> SelectContextsAsync(PromptParts prompt, int targetTokens, CancellationToken cancellationToken)
    {
        int fixedTokens = (Options.CompressInstruction ? 0 : CountTokens(prompt.Instruction)) + (Options.CompressQuestion ? 0 : CountTokens(prompt.Question));
        double coarseBudget = Math.Max(0, targetTokens - fixedTokens) * Options.CoarseContextRetention;
        double[] scores = await QuestionLogProbabilityAsync(prompt.Question!, prompt.Contexts, cancellationToken, unit: "context").ConfigureAwait(false);
        int[] ranked = Enumerable.Range(0, scores.Length).OrderByDescending(i => scores[i]).ThenBy(i => i).ToArray();
        var kept = new List<int>();
        double used = 0;
        foreach (int index in ranked)
        {
            int tokens = CountTokens(prompt.Contexts[index]);
            if (used + tokens > coarseBudget && (kept.Count > 0 || coarseBudget <= 0))
            {
                continue;
            }

            kept.Add(index);
            used += tokens;
        }

        kept.Sort();
        return [.. kept];
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Debug, Message = "Compressed {OriginalTokens} to {CompressedTokens} tokens in {Segments} scorer calls, {Milliseconds:F1} ms.")]
    private partial void LogCompressed(int originalTokens, int compressedTokens, int segments, double milliseconds);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Compressed {OriginalTokens} to {CompressedTokens} tokens but the target was {TargetTokens}: force-kept content alone exceeds it.")]
    private partial void LogTargetMissed(int originalTokens, int compressedTokens, int targetTokens);
}
