namespace LlmKit.Generation;

/// <summary>
/// Forbids end-of-sequence tokens until a minimum number of tokens has been generated (onnxruntime-genai's
/// <c>min_length</c>, Hugging Face's <c>min_new_tokens</c>): their logits become negative infinity.
/// </summary>
public sealed class MinNewTokensProcessor : ILogitsProcessor
{
    private readonly int _minNewTokens;
    private readonly int[] _eos;

    /// <summary>Creates the processor.</summary>
    /// <param name="minNewTokens">Tokens to generate before EOS may be chosen; must be &gt;= 0.</param>
    /// <param name="endOfSequenceIds">The ids to mask.</param>
    public MinNewTokensProcessor(int minNewTokens, IReadOnlyList<int> endOfSequenceIds)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(minNewTokens);
        ArgumentNullException.ThrowIfNull(endOfSequenceIds);
        _minNewTokens = minNewTokens;
        _eos = [.. endOfSequenceIds];
    }

    /// <inheritdoc />
    public void Process(Span<float> logits, TokenHistory history)
    {
        if (history.Generated.Length >= _minNewTokens)
        {
            return;
        }

        foreach (int id in _eos)
        {
            if ((uint)id < (uint)logits.Length)
            {
                logits[id] = float.NegativeInfinity;
            }
        }
    }
}
