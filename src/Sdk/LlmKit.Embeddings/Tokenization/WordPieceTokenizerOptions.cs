namespace LlmKit.Embeddings.Tokenization;

/// <summary>Settings of <see cref="WordPieceTokenizer"/> (the BERT "basic" tokenizer followed by WordPiece).</summary>
public sealed record WordPieceTokenizerOptions
{
    /// <summary>
    /// Lower-case the text (an "uncased" vocabulary). Default true. When true, accents are also stripped
    /// (NFD, then combining marks removed) unless <see cref="StripAccents"/> says otherwise.
    /// </summary>
    public bool LowerCase { get; init; } = true;

    /// <summary>Strip accents (NFD, then non-spacing marks removed). Null (default) follows <see cref="LowerCase"/>, as Hugging Face does.</summary>
    public bool? StripAccents { get; init; }

    /// <summary>Put spaces around CJK ideographs so each becomes its own word. Default true.</summary>
    public bool HandleChineseCharacters { get; init; } = true;

    /// <summary>Prefix that marks a word-continuation piece. Default <c>##</c>.</summary>
    public string ContinuingSubwordPrefix { get; init; } = "##";

    /// <summary>A word longer than this many Unicode scalar values becomes the unknown token. Default 100; allowed 1 to 10,000.</summary>
    public int MaxInputCharsPerWord { get; init; } = 100;

    /// <summary>The unknown token. Default <c>[UNK]</c>.</summary>
    public string UnknownToken { get; init; } = "[UNK]";

    /// <summary>The token put before every sequence. Default <c>[CLS]</c>.</summary>
    public string ClsToken { get; init; } = "[CLS]";

    /// <summary>The token put after every sequence. Default <c>[SEP]</c>.</summary>
    public string SepToken { get; init; } = "[SEP]";

    /// <summary>The padding token. Default <c>[PAD]</c>.</summary>
    public string PadToken { get; init; } = "[PAD]";

    /// <summary>The mask token. Default <c>[MASK]</c>.</summary>
    public string MaskToken { get; init; } = "[MASK]";

    /// <summary>
    /// Map the special tokens (<c>[CLS]</c>, <c>[SEP]</c>, <c>[PAD]</c>, <c>[UNK]</c>, <c>[MASK]</c>) written literally in the text to
    /// their ids, as Hugging Face tokenizers do. Default true. False tokenizes them as ordinary text.
    /// </summary>
    public bool MatchSpecialTokensInText { get; init; } = true;

    internal void Validate()
    {
        if (MaxInputCharsPerWord is < 1 or > 10_000)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxInputCharsPerWord), MaxInputCharsPerWord, "MaxInputCharsPerWord must be between 1 and 10,000.");
        }

        ArgumentException.ThrowIfNullOrEmpty(ContinuingSubwordPrefix, nameof(ContinuingSubwordPrefix));
        ArgumentException.ThrowIfNullOrEmpty(UnknownToken, nameof(UnknownToken));
        ArgumentException.ThrowIfNullOrEmpty(ClsToken, nameof(ClsToken));
        ArgumentException.ThrowIfNullOrEmpty(SepToken, nameof(SepToken));
        ArgumentException.ThrowIfNullOrEmpty(PadToken, nameof(PadToken));
    }
}
