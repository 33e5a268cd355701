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

    public ConstrainedVerdict(ITokenScorer scorer, VerdictPrompt prompt)
    {
        _scorer = scorer;
        _prompt = prompt;
        int promptTokens = scorer.Tokenizer.CountTokens(prompt.Prefix + prompt.Suffix);
        int answerTokens = Math.Max(scorer.Tokenizer.CountTokens(Answers[0]), scorer.Tokenizer.CountTokens(Answers[1]));

        // BOS, the answer, and a few tokens of slack for merges across the quote's edges.
        _maxTextTokens = scorer.MaxSequenceLength - promptTokens - answerTokens - 4;
        if (_maxTextTokens < 8)
        {
            throw new ArgumentException(
                $"The verdict prompt takes {promptTokens} tokens, leaving {_maxTextTokens} of the scorer's {scorer.MaxSequenceLength} for the text; " +
                "use fewer or shorter verdict examples (VerdictExamplesPerClass) or a scorer with a longer context.",
                nameof(scorer));
        }
    }

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
