namespace LlmKit.Generation;

/// <summary>The outcome of a whole generation.</summary>
/// <param name="Text">The generated text (stop sequences and special tokens excluded).</param>
/// <param name="TokenIds">The generated token ids.</param>
/// <param name="PromptTokenCount">Prompt tokens processed (BOS included).</param>
/// <param name="FinishReason">Why generation ended.</param>
/// <param name="TimeToFirstToken">Time until the first token (prefill).</param>
/// <param name="Elapsed">Total time.</param>
public sealed record GenerationResult(
    string Text,
    IReadOnlyList<int> TokenIds,
    int PromptTokenCount,
    GenerationFinishReason FinishReason,
    TimeSpan TimeToFirstToken,
    TimeSpan Elapsed)
{
    /// <summary>Number of generated tokens.</summary>
    public int GeneratedTokenCount => TokenIds.Count;

    /// <summary>
    /// Every sequence returned, best first: the <see cref="GenerationOptions.NumReturnSequences"/> sequences of a beam
    /// search (the first is this result's <see cref="Text"/>), or this result alone.
    /// </summary>
    public IReadOnlyList<GeneratedSequence> Sequences
    {
        get => _sequences ?? [new GeneratedSequence(Text, TokenIds, 0f, FinishReason)];
        init => _sequences = value;
    }

    private readonly IReadOnlyList<GeneratedSequence>? _sequences;

    /// <summary>
    /// Prompt tokens whose KV cache was reused from an earlier sequence instead of prefilled (part of
    /// <see cref="PromptTokenCount"/>; see <see cref="Models.OnnxGenAIModelOptions.ReusePromptPrefixes"/>).
    /// </summary>
    public int CachedPromptTokenCount { get; init; }

    /// <summary>Draft tokens proposed by prompt lookup or a draft model and verified (0 without speculation).</summary>
    public int DraftedTokenCount { get; init; }

    /// <summary>Drafted tokens the model accepted; <see cref="DraftedTokenCount"/> gives the acceptance rate.</summary>
    public int AcceptedDraftTokenCount { get; init; }

    /// <summary>Decode speed: tokens after the first per second of decode time (0 when fewer than two tokens).</summary>
    public double DecodeTokensPerSecond => DecodeRate(GeneratedTokenCount, TimeToFirstToken, Elapsed);

    /// <summary>Tokens after the first per second after the first (0 when fewer than two tokens).</summary>
    internal static double DecodeRate(int generated, TimeSpan firstToken, TimeSpan elapsed) =>
        generated > 1 && elapsed > firstToken ? (generated - 1) / (elapsed - firstToken).TotalSeconds : 0;
}

/// <summary>One streamed piece of a generation.</summary>
/// <param name="Text">New text (may be empty while a multi-byte character or a possible stop sequence is held back).</param>
/// <param name="TokenId">The token this update is for.</param>
/// <param name="PromptTokenCount">Prompt tokens processed.</param>
/// <param name="GeneratedTokenCount">Tokens generated so far.</param>
/// <param name="FinishReason">Set on the last update only.</param>
public sealed record GenerationUpdate(
    string Text,
    int TokenId,
    int PromptTokenCount,
    int GeneratedTokenCount,
    GenerationFinishReason? FinishReason)
{
    /// <summary>Prompt tokens whose KV cache was reused from an earlier sequence instead of prefilled.</summary>
    public int CachedPromptTokenCount { get; init; }
}

/// <summary>One of the sequences a generation returns (see <see cref="GenerationResult.Sequences"/>).</summary>
/// <param name="Text">The generated text.</param>
/// <param name="TokenIds">The generated ids (prompt excluded).</param>
/// <param name="Score">Beam search: sum(log p) / length^length_penalty; 0 otherwise.</param>
/// <param name="FinishReason">Why this sequence ended.</param>
public sealed record GeneratedSequence(string Text, IReadOnlyList<int> TokenIds, float Score, GenerationFinishReason FinishReason);
