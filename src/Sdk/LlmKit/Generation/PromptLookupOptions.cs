namespace LlmKit.Generation;

/// <summary>
/// Speculative decoding by prompt lookup: before each decode step the generator looks for the latest n-gram of the
/// sequence earlier in the prompt or generated text, proposes the tokens that followed it as drafts, and verifies them
/// all in one multi-token run of the model. The output is the same as without it (token for token when decoding
/// greedily; same distribution when sampling); only the number of model runs changes. Pays off when the answer
/// repeats text from the prompt (rewriting, extraction, code edits).
/// </summary>
/// <remarks>Not applied to beam search or to models with a sliding window.</remarks>
public sealed record PromptLookupOptions
{
    /// <summary>Most draft tokens verified per run, in [1, 64]. Default 8.</summary>
    public int DraftTokens { get; init; } = 8;

    /// <summary>Longest n-gram looked up (the last n tokens of the sequence), in [1, 16]; longer ones are tried first. Default 3.</summary>
    public int MaxNGram { get; init; } = 3;

    /// <summary>Shortest n-gram looked up, in [1, <see cref="MaxNGram"/>]. Default 1.</summary>
    public int MinNGram { get; init; } = 1;

    /// <summary>Validates the settings.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is outside its range; the message names the setting.</exception>
    public void Validate()
    {
        if (DraftTokens is < 1 or > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(DraftTokens), DraftTokens, "prompt lookup draft tokens must be in [1, 64].");
        }

        if (MaxNGram is < 1 or > 16)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxNGram), MaxNGram, "prompt lookup max n-gram must be in [1, 16].");
        }

        if (MinNGram < 1 || MinNGram > MaxNGram)
        {
            throw new ArgumentOutOfRangeException(nameof(MinNGram), MinNGram, $"prompt lookup min n-gram must be in [1, max n-gram = {MaxNGram}].");
        }
    }
}
