using System.Runtime.CompilerServices;
using LlmKit.Plugins.FewShot.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.Tokenizers;

namespace LlmKit.Plugins.FewShot.Selection;

/// <summary>
/// Wraps another selector and keeps the best examples whose total size fits a token budget, counted with the
/// model's own tokenizer (not words). It walks the inner ranking best first and skips any example that would
/// overflow the budget, so a long example never pushes the prompt past the context. When an example among the
/// requested best is dropped, a warning is logged and the <c>llmkit.fewshot.examples.dropped</c> counter grows.
/// When the budget is smaller than every candidate the result is empty (documented, not an error).
/// </summary>
/// <remarks>
/// The size of an example is tokens(input) + tokens(output) + <see cref="PerExampleOverheadTokens"/> (the chat
/// template's role markers around the two turns). Token counts are cached per example instance. Thread-safe.
/// </remarks>
public sealed partial class TokenBudgetSelector : IFewShotSelector
{
    private readonly IFewShotSelector _inner;
    private readonly Tokenizer _tokenizer;
    private readonly ILogger _logger;
    private readonly ConditionalWeakTable<FewShotExample, StrongBox<int>> _sizes = new();

    /// <summary>Creates the wrapper.</summary>
    /// <param name="inner">The selector whose ranking is trimmed.</param>
    /// <param name="tokenizer">The model's tokenizer.</param>
    /// <param name="maxTokens">Budget for all examples together; at least 1.</param>
    /// <param name="perExampleOverheadTokens">Template tokens added per example (≥ 0). Default 0.</param>
    /// <param name="candidateMultiplier">The inner selector is asked for count × this many candidates (1 to 100). Default 4.</param>
    /// <param name="logger">Receives the budget warnings.</param>
    /// <exception cref="ArgumentOutOfRangeException">A numeric argument is outside its range.</exception>
    public TokenBudgetSelector(
        IFewShotSelector inner,
        Tokenizer tokenizer,
        int maxTokens,
        int perExampleOverheadTokens = 0,
        int candidateMultiplier = 4,
        ILogger<TokenBudgetSelector>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (maxTokens < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxTokens), maxTokens, "maxTokens must be at least 1.");
        }

        if (perExampleOverheadTokens < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(perExampleOverheadTokens), perExampleOverheadTokens, "perExampleOverheadTokens must be >= 0.");
        }

        if (candidateMultiplier is < 1 or > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(candidateMultiplier), candidateMultiplier, "candidateMultiplier must be between 1 and 100.");
        }

        _inner = inner;
        _tokenizer = tokenizer;
        _logger = logger ?? NullLogger<TokenBudgetSelector>.Instance;
        MaxTokens = maxTokens;
        PerExampleOverheadTokens = perExampleOverheadTokens;
        CandidateMultiplier = candidateMultiplier;
    }

    /// <summary>Budget for all selected examples together, in model tokens.</summary>
    public int MaxTokens { get; }

    /// <summary>Template tokens counted per example on top of its input and output.</summary>
    public int PerExampleOverheadTokens { get; }

    /// <summary>Multiplier for the number of candidates asked of the inner selector.</summary>
    public int CandidateMultiplier { get; }

    /// <summary>The size of <paramref name="example"/> in tokens as this selector counts it.</summary>
    public int CountTokens(FewShotExample example)
    {
        ArgumentNullException.ThrowIfNull(example);
        return _sizes.GetValue(example, e => new StrongBox<int>(
            _tokenizer.CountTokens(e.Input, considerPreTokenization: true, considerNormalization: true)
            + _tokenizer.CountTokens(e.Output, considerPreTokenization: true, considerNormalization: true)
            + PerExampleOverheadTokens)).Value;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<SelectedExample>> SelectAsync(string input, int count, CancellationToken cancellationToken = default)
    {
        SelectorGuard.CheckArguments(input, count);
        int candidateCount = (int)Math.Min(int.MaxValue, (long)count * CandidateMultiplier);
        var candidates = await _inner.SelectAsync(input, candidateCount, cancellationToken).ConfigureAwait(false);
        var kept = new List<SelectedExample>(Math.Min(count, candidates.Count));
        int used = 0;
        int droppedAmongBest = 0;
        for (int i = 0; i < candidates.Count && kept.Count < count; i++)
        {
            int size = CountTokens(candidates[i].Example);
            if (used + size <= MaxTokens)
            {
                kept.Add(candidates[i]);
                used += size;
            }
            else if (i < count)
            {
                droppedAmongBest++;
            }
        }

        if (droppedAmongBest > 0 || (kept.Count < count && kept.Count < candidates.Count))
        {
            FewShotTelemetry.DroppedForBudget.Add(droppedAmongBest);
            LogDropped(_logger, droppedAmongBest, Math.Min(count, candidates.Count), MaxTokens, kept.Count, used);
        }

        return kept;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Few-shot token budget: dropped {Dropped} of the {Requested} best examples to fit {Budget} tokens; kept {Kept} examples using {Used} tokens.")]
    private static partial void LogDropped(ILogger logger, int dropped, int requested, int budget, int kept, int used);
}
