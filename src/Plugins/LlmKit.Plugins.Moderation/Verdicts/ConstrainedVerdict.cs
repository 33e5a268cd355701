using LlmKit.Plugins.Moderation.Classification;
using LlmKit.Scoring;

namespace LlmKit.Plugins.Moderation.Verdicts;

/// <summary>
/// The constrained verdict: log P(" True") and log P(" False") after the fixed prompt, read through an
/// <see cref="ITokenScorer"/>. The model's free text never enters: only the two probabilities do.
/// Thread-safe after <see cref="CalibrateAsync"/> (which runs once, during warm-up).
/// </summary>
internal sealed class ConstrainedVerdict
{
    private static readonly string[] Answers = [" True", " False"];
    private readonly ITokenScorer _scorer;
    private readonly VerdictPrompt _prompt;
    private readonly int _maxTextTokens;
    private double _scale = 1;
    private double _offset;

    private ConstrainedVerdict(ITokenScorer scorer, VerdictPrompt prompt, int maxTextTokens)
    {
        _scorer = scorer;
        _prompt = prompt;
        _maxTextTokens = maxTextTokens;
    }

    /// <summary>
    /// Builds the verdict with as many of the requested prompt examples as leave at least half of the scorer's
    /// context for the text (a small model's 512 tokens fill quickly); throws when even none do.
    /// </summary>
    public static ConstrainedVerdict Create(ITokenScorer scorer, ModerationOptions options)
    {
        int answerTokens = Math.Max(scorer.Tokenizer.CountTokens(Answers[0]), scorer.Tokenizer.CountTokens(Answers[1]));
        int wanted = scorer.MaxSequenceLength / 2;
        int budget = 0, promptTokens = 0;
        for (int examples = options.VerdictExamplesPerClass; examples >= 0; examples--)
        {
            var prompt = new VerdictPrompt(options.Domain, options.InDomainExamples, options.OffDomainExamples, examples, VerdictPrompt.MaxExampleCharacters);
            promptTokens = scorer.Tokenizer.CountTokens(prompt.Prefix + prompt.Suffix);

            // BOS, the answer, and a few tokens of slack for merges across the quote's edges.
            budget = scorer.MaxSequenceLength - promptTokens - answerTokens - 4;
            if (budget >= wanted || (examples == 0 && budget >= 8))
            {
                return new ConstrainedVerdict(scorer, prompt, budget);
            }
        }

        throw new ArgumentException(
            $"The verdict prompt takes {promptTokens} tokens even without examples, leaving {budget} of the scorer's {scorer.MaxSequenceLength} for the text; " +
            "use a shorter Domain description or a scorer with a longer context.",
            nameof(scorer));
    }

    /// <summary>Examples per class the prompt shows.</summary>
    public int ExamplesShown => _prompt.ExamplesShown;

    public bool IsCalibrated { get; private set; }

    /// <summary>log P(False) − log P(True): positive when the model leans off-domain.</summary>
    public async Task<double> OffDomainLogOddsAsync(string text, CancellationToken cancellationToken)
    {
        string quoted = TokenBudget.Truncate(_scorer.Tokenizer, VerdictPrompt.Quote(text), _maxTextTokens);
        var scores = await _scorer.ScoreManyAsync(_prompt.ForScorer(quoted), Answers, cancellationToken).ConfigureAwait(false);
        return scores[1].TotalLogProbability - scores[0].TotalLogProbability;
    }

    /// <summary>The calibrated (or, before calibration, the renormalised two-answer) off-domain probability.</summary>
    public async Task<double> OffDomainProbabilityAsync(string text, CancellationToken cancellationToken)
    {
        double logOdds = await OffDomainLogOddsAsync(text, cancellationToken).ConfigureAwait(false);
        return LogisticRegression.Sigmoid((_scale * logOdds) + _offset);
    }

    /// <summary>Fits σ(a·logOdds + c) on labelled texts (true = off-domain).</summary>
    public async Task CalibrateAsync(IReadOnlyList<string> texts, IReadOnlyList<bool> offDomain, CancellationToken cancellationToken)
    {
        var logOdds = new double[texts.Count];
        for (int i = 0; i < texts.Count; i++)
        {
            logOdds[i] = await OffDomainLogOddsAsync(texts[i], cancellationToken).ConfigureAwait(false);
        }

        (_scale, _offset) = LogisticRegression.FitPlatt(logOdds, offDomain);
        IsCalibrated = true;
    }
}
