namespace LlmKit.Plugins.Moderation;

/// <summary>What a moderation check concluded about a text.</summary>
public enum ModerationCategory
{
    /// <summary>The text may pass.</summary>
    Allowed,

    /// <summary>The text is outside the configured domain (or its verdict was uncertain and the policy fails closed).</summary>
    OffDomain,

    /// <summary>The text tries to override the assistant's instructions (prompt injection), or could not be inspected safely.</summary>
    Injection,
}

/// <summary>The part of <see cref="DomainModerator"/> that decided a result.</summary>
public enum ModerationPath
{
    /// <summary>No check was needed (e.g. empty text).</summary>
    None,

    /// <summary>The input itself was rejected before any check (e.g. longer than <see cref="ModerationOptions.MaxTextLength"/>).</summary>
    InputValidation,

    /// <summary>Pattern heuristics over the normalised text (override phrases, role switches, fake markers, delimiter breaking).</summary>
    InjectionHeuristics,

    /// <summary>A logistic-regression classifier over embeddings trained from <see cref="ModerationOptions.InjectionExamples"/>.</summary>
    InjectionClassifier,

    /// <summary>Perplexity heuristics read through an <see cref="LlmKit.Scoring.ITokenScorer"/> (length per perplexity, prefix/suffix perplexity).</summary>
    Perplexity,

    /// <summary>A logistic-regression classifier over embeddings trained from the domain examples.</summary>
    EmbeddingClassifier,

    /// <summary>log P(" True") against log P(" False") read through an <see cref="LlmKit.Scoring.ITokenScorer"/>.</summary>
    ConstrainedVerdict,

    /// <summary>One-token greedy generation through an <see cref="Microsoft.Extensions.AI.IChatClient"/>, parsed strictly.</summary>
    GeneratedVerdict,

    /// <summary>The mean of several domain paths' probabilities.</summary>
    Combined,
}

/// <summary>Which kind of text is being checked; it selects the checks that apply.</summary>
public enum ModerationTarget
{
    /// <summary>A user's message: injection checks and the domain check.</summary>
    UserInput,

    /// <summary>An argument passed to a function (tool): injection checks only.</summary>
    FunctionArgument,

    /// <summary>A function's (tool's) result, which may carry indirect injection: injection checks only.</summary>
    FunctionResult,

    /// <summary>The model's answer: the domain check only (an answer that explains an attack is not one).</summary>
    ModelOutput,
}

/// <summary>
/// The outcome of one moderation check. <see cref="Score"/> and <see cref="Threshold"/> belong to the path named
/// by <see cref="DecidedBy"/>: a probability of violation for classifier and verdict paths, the heuristic's
/// combined rule weight for <see cref="ModerationPath.InjectionHeuristics"/>, and the measured statistic for
/// <see cref="ModerationPath.Perplexity"/>. A text is blocked when its score reaches the threshold.
/// </summary>
/// <param name="Allowed">Whether the text may pass.</param>
/// <param name="Score">The deciding path's score.</param>
/// <param name="Threshold">The deciding path's threshold.</param>
/// <param name="Category">Allowed, off-domain or injection.</param>
/// <param name="Reason">A short explanation without the checked text.</param>
/// <param name="DecidedBy">The path that decided.</param>
public sealed record ModerationResult(
    bool Allowed,
    double Score,
    double Threshold,
    ModerationCategory Category,
    string Reason,
    ModerationPath DecidedBy)
{
    /// <summary>The kind of text that was checked.</summary>
    public ModerationTarget Target { get; init; }

    /// <summary>True when a verdict could not be read (the model answered neither True nor False) and policy decided.</summary>
    public bool IsUncertain { get; init; }
}
