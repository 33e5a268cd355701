namespace LlmKit.Generation;

/// <summary>
/// Changes next-token logits in place before sampling (penalties, temperature, filters).
/// Filters remove a token by setting its logit to <see cref="float.NegativeInfinity"/>.
/// </summary>
/// <remarks>Implementations keep per-sequence scratch state and are not thread-safe; create one per sequence.</remarks>
public interface ILogitsProcessor
{
    /// <summary>Processes the logits of the next token.</summary>
    /// <param name="logits">One logit per vocabulary entry; modified in place.</param>
    /// <param name="history">The sequence so far.</param>
    void Process(Span<float> logits, TokenHistory history);
}

/// <summary>Chooses the next token from processed logits.</summary>
public interface ITokenSampler
{
    /// <summary>Returns the chosen token id.</summary>
    int Sample(ReadOnlySpan<float> logits);
}
