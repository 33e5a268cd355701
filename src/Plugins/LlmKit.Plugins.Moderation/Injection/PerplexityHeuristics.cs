using LlmKit.Plugins.Moderation.Verdicts;
using LlmKit.Scoring;

namespace LlmKit.Plugins.Moderation.Injection;

/// <summary>The thresholds the perplexity heuristics use, and where they came from.</summary>
/// <param name="LengthPerPerplexity">Characters ÷ perplexity at or above which a text is blocked (null: check off).</param>
/// <param name="PrefixSuffixPerplexity">Window perplexity at or above which a text is blocked (null: check off).</param>
/// <param name="CalibrationSamples">How many benign samples calibrated the thresholds (0 when both were configured).</param>
public sealed record PerplexityThresholds(double? LengthPerPerplexity, double? PrefixSuffixPerplexity, int CalibrationSamples);

/// <summary>One perplexity heuristic that fired.</summary>
internal sealed record PerplexityFinding(string Check, double Value, double Threshold);

/// <summary>
/// NeMo-Guardrails-style jailbreak heuristics through an <see cref="ITokenScorer"/>: characters per perplexity of
/// the whole text (long fluent jailbreak prompts) and the perplexity of the first and last words (gibberish
/// adversarial affixes). Both score the text with its repeats removed (<see cref="RepetitionCollapser"/>), so a repetitive
/// but harmless text (a repeated sentence, lyrics, a list, a table) is judged on its distinct content.
/// Thresholds default to values calibrated on benign text; see <see cref="PerplexityHeuristicOptions"/>.
/// Thread-safe after <see cref="CalibrateAsync"/>.
/// </summary>
internal sealed class PerplexityHeuristics
{
    private readonly ITokenScorer _scorer;
    private readonly PerplexityHeuristicOptions _options;
    private readonly int _maxCharacters;
    private readonly int _maxTokens;

    public PerplexityHeuristics(ITokenScorer scorer, PerplexityHeuristicOptions options, int maxCharacters)
    {
        _scorer = scorer;
        _options = options;
        _maxCharacters = maxCharacters;
        _maxTokens = scorer.MaxSequenceLength - 2;
        Thresholds = new PerplexityThresholds(options.LengthPerPerplexityThreshold, options.PrefixSuffixPerplexityThreshold, 0);
    }

    public PerplexityThresholds Thresholds { get; private set; }

    /// <summary>
    /// Sets every unconfigured threshold to the largest value seen on benign text times the margin. Benign texts are
    /// also concatenated into longer passages and cut into word windows, so the calibration sees the lengths the checks see.
    /// </summary>
    public async Task CalibrateAsync(IReadOnlyList<string> benignTexts, CancellationToken cancellationToken)
    {
        if (_options.LengthPerPerplexityThreshold is not null && _options.PrefixSuffixPerplexityThreshold is not null)
        {
            return;
        }

        var words = new List<string>();
        double maxLength = 0, maxWindow = 0;
        int samples = 0;
        foreach (string benign in benignTexts)
        {
            string text = RepetitionCollapser.Collapse(benign); // calibrated on what the checks score
            maxLength = Math.Max(maxLength, await LengthPerPerplexityAsync(text, cancellationToken).ConfigureAwait(false));
            samples++;
            words.AddRange(SplitWords(text));
        }

        // Passages of benign text as long as the scorer reads, for the length statistic.
        for (int start = 0; start < words.Count; start += 40)
        {
            var passage = JoinWords(words, start, Math.Min(words.Count - start, 400));
            maxLength = Math.Max(maxLength, await LengthPerPerplexityAsync(passage, cancellationToken).ConfigureAwait(false));
            samples++;
        }

        // Windows of exactly WindowWords words, for the prefix/suffix statistic.
        for (int start = 0; start + _options.WindowWords <= words.Count; start += Math.Max(1, _options.WindowWords / 2))
        {
            maxWindow = Math.Max(maxWindow, await PerplexityAsync(JoinWords(words, start, _options.WindowWords), cancellationToken).ConfigureAwait(false));
            samples++;
        }

        double? length = _options.LengthPerPerplexityThreshold ?? (maxLength > 0 ? maxLength * _options.CalibrationMargin : null);
        double? window = _options.PrefixSuffixPerplexityThreshold ?? (maxWindow > 0 ? maxWindow * _options.CalibrationMargin : null);
        Thresholds = new PerplexityThresholds(length, window, samples);
    }

    /// <summary>The first heuristic that fires on <paramref name="text"/>, or null.</summary>
    public async Task<PerplexityFinding?> CheckAsync(string text, CancellationToken cancellationToken)
    {
        // Repetition skews perplexity both ways and says nothing about an attack: each piece of content is scored once.
        text = RepetitionCollapser.Collapse(text);
        var thresholds = Thresholds;
        if (thresholds.PrefixSuffixPerplexity is { } windowThreshold)
        {
            var words = SplitWords(text);
            if (words.Count >= _options.MinWords)
            {
                int n = _options.WindowWords;
                double prefix = await PerplexityAsync(JoinWords(words, 0, Math.Min(n, words.Count)), cancellationToken).ConfigureAwait(false);
                double suffix = await PerplexityAsync(JoinWords(words, Math.Max(0, words.Count - n), Math.Min(n, words.Count)), cancellationToken).ConfigureAwait(false);
                double worst = Math.Max(prefix, suffix);
                if (worst >= windowThreshold)
                {
                    return new PerplexityFinding("prefix_suffix_perplexity", worst, windowThreshold);
                }
            }
        }

        if (thresholds.LengthPerPerplexity is { } lengthThreshold && text.Length >= _options.MinCharacters)
        {
            double value = await LengthPerPerplexityAsync(text, cancellationToken).ConfigureAwait(false);
            if (value >= lengthThreshold)
            {
                return new PerplexityFinding("length_per_perplexity", value, lengthThreshold);
            }
        }

        return null;
    }

    private async Task<double> LengthPerPerplexityAsync(string text, CancellationToken cancellationToken)
    {
        string scored = Cut(text);
        if (scored.Length == 0)
        {
            return 0;
        }

        double perplexity = await PerplexityOfCutAsync(scored, cancellationToken).ConfigureAwait(false);
        return scored.Length / perplexity;
    }

    private async Task<double> PerplexityAsync(string text, CancellationToken cancellationToken)
    {
        string scored = Cut(text);
        return scored.Length == 0 ? 1 : await PerplexityOfCutAsync(scored, cancellationToken).ConfigureAwait(false);
    }

    private async Task<double> PerplexityOfCutAsync(string scored, CancellationToken cancellationToken)
    {
        var scores = await _scorer.ScoreAsync(string.Empty, scored, cancellationToken).ConfigureAwait(false);
        return scores.TokenIds.Count == 0 ? 1 : scores.Perplexity;
    }

    private string Cut(string text)
    {
        string trimmed = TokenBudget.CutAt(text.Trim(), _maxCharacters);
        return TokenBudget.Truncate(_scorer.Tokenizer, trimmed, _maxTokens);
    }

    private static List<string> SplitWords(string text) =>
        [.. text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];

    private static string JoinWords(List<string> words, int start, int count) => string.Join(" ", words.GetRange(start, count));
}
