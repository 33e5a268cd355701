using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace LlmKit.Embeddings.Tokenization;

/// <summary>
/// The BERT tokenizer: basic tokenization (control characters removed, every kind of whitespace a separator, CJK
/// ideographs split, lower-casing and accent stripping for uncased vocabularies, punctuation split by the BERT
/// definition) followed by greedy longest-match-first WordPiece with a continuation prefix.
/// </summary>
/// <remarks>
/// <para>
/// Written to give the same ids as Hugging Face's <c>BertTokenizer</c> (tests compare against ids made by
/// <c>@huggingface/transformers</c>). Unlike <c>Microsoft.ML.Tokenizers.BertTokenizer</c> it keeps
/// <c>$ + = &lt; &gt; ^ ` | ~</c> and treats tabs and newlines as separators. A word becomes <c>[UNK]</c> only when the
/// vocabulary cannot cover it, or when it is longer than <see cref="WordPieceTokenizerOptions.MaxInputCharsPerWord"/>.
/// </para>
/// <para>
/// Characters removed as "control", as BERT does: Unicode categories Cc, Cf, Co, Cs and Cn except tab, line feed and
/// carriage return (so U+000B, U+000C, U+0085, zero-width spaces and soft hyphens join the text on either side, as in
/// the reference). Whitespace: space, tab, LF, CR and categories Zs, Zl, Zp.
/// </para>
/// <para>Thread-safe: an instance is immutable after construction.</para>
/// </remarks>
public sealed class WordPieceTokenizer
{
    /// <summary>Largest vocabulary file read (bytes); larger files are rejected before allocation.</summary>
    public const long MaxVocabularyFileBytes = 64L * 1024 * 1024;

    /// <summary>Largest tokenizer.json read (bytes).</summary>
    public const long MaxTokenizerJsonBytes = 256L * 1024 * 1024;

    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly string[] _idToToken;
    private readonly (string Text, int Id)[] _specialTokens;
    private readonly bool _lowerCase;
    private readonly bool _stripAccents;
    private readonly bool _handleChinese;
    private readonly string _prefix;
    private readonly int _maxCharsPerWord;

    private WordPieceTokenizer(Dictionary<string, int> vocab, WordPieceTokenizerOptions options, string source)
    {
        options.Validate();
        _vocab = vocab;
        _lookup = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        int maxId = -1;
        foreach (var id in vocab.Values)
        {
            if (id < 0)
            {
                throw new InvalidDataException($"{source}: token ids must be >= 0 (found {id}).");
            }

            maxId = Math.Max(maxId, id);
        }

        if (maxId >= 10_000_000)
        {
            throw new InvalidDataException($"{source}: token id {maxId} is larger than the 10,000,000 this tokenizer accepts.");
        }

        _idToToken = new string[maxId + 1];
        foreach (var (token, id) in vocab)
        {
            _idToToken[id] = token;
        }

        _lowerCase = options.LowerCase;
        _stripAccents = options.StripAccents ?? options.LowerCase;
        _handleChinese = options.HandleChineseCharacters;
        _prefix = options.ContinuingSubwordPrefix;
        _maxCharsPerWord = options.MaxInputCharsPerWord;
        UnknownId = Require(options.UnknownToken, nameof(options.UnknownToken), source);
        ClsId = Require(options.ClsToken, nameof(options.ClsToken), source);
        SepId = Require(options.SepToken, nameof(options.SepToken), source);
        PadId = Require(options.PadToken, nameof(options.PadToken), source);

        var specials = new List<(string, int)>();
        if (options.MatchSpecialTokensInText)
        {
            foreach (var token in new[] { options.PadToken, options.UnknownToken, options.ClsToken, options.SepToken, options.MaskToken })
            {
                if (!string.IsNullOrEmpty(token) && vocab.TryGetValue(token, out int id) && !specials.Exists(s => s.Item1 == token))
                {
                    specials.Add((token, id));
                }
            }
        }

        // Longest first, so a longer special token wins over a shorter one starting at the same position.
        specials.Sort((a, b) => b.Item1.Length.CompareTo(a.Item1.Length));
        _specialTokens = [.. specials];
    }

    /// <summary>Id of the unknown token.</summary>
    public int UnknownId { get; }

    /// <summary>Id of the token put before every sequence.</summary>
    public int ClsId { get; }

    /// <summary>Id of the token put after every sequence.</summary>
    public int SepId { get; }

    /// <summary>Id of the padding token.</summary>
    public int PadId { get; }

    /// <summary>Number of entries in the vocabulary.</summary>
    public int VocabularySize => _vocab.Count;

    /// <summary>Whether the text is lower-cased (an uncased vocabulary).</summary>
    public bool LowerCase => _lowerCase;

    /// <summary>Builds a tokenizer over a vocabulary given in id order (the line order of a <c>vocab.txt</c>).</summary>
    /// <param name="tokens">The tokens; the index of each is its id.</param>
    /// <param name="options">Settings; defaults (uncased BERT) when null.</param>
    /// <exception cref="InvalidDataException">A token repeats, or a special token is missing.</exception>
    public static WordPieceTokenizer FromTokens(IEnumerable<string> tokens, WordPieceTokenizerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        int id = 0;
        foreach (var token in tokens)
        {
            if (!vocab.TryAdd(token, id))
            {
                // Hugging Face keeps the last id of a repeated line; a real vocabulary has none.
                throw new InvalidDataException($"vocabulary: token '{token}' appears twice (ids {vocab[token]} and {id}).");
            }

            id++;
        }

        return new WordPieceTokenizer(vocab, options ?? new WordPieceTokenizerOptions(), "vocabulary");
    }

    /// <summary>Loads a BERT <c>vocab.txt</c> (one token per line, UTF-8, LF or CRLF line ends).</summary>
    /// <param name="vocabPath">The file.</param>
    /// <param name="options">Settings; defaults (uncased BERT) when null.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is empty, too large, repeats a token or lacks a special token.</exception>
    public static WordPieceTokenizer FromVocabFile(string vocabPath, WordPieceTokenizerOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(vocabPath);
        var info = new FileInfo(vocabPath);
        if (!info.Exists)
        {
            throw new FileNotFoundException($"Vocabulary file '{vocabPath}' does not exist.", vocabPath);
        }

        if (info.Length is 0 or > MaxVocabularyFileBytes)
        {
            throw new InvalidDataException($"Vocabulary file '{vocabPath}' has {info.Length} bytes; expected 1 to {MaxVocabularyFileBytes}.");
        }

        using var stream = File.OpenRead(vocabPath);
        try
        {
            return FromVocabStream(stream, options);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"Vocabulary file '{vocabPath}': {ex.Message}", ex);
        }
    }

    /// <summary>Reads a BERT vocabulary (one token per line) from a stream, which is read to its end and not disposed.</summary>
    /// <param name="vocabStream">The stream.</param>
    /// <param name="options">Settings; defaults (uncased BERT) when null.</param>
    public static WordPieceTokenizer FromVocabStream(Stream vocabStream, WordPieceTokenizerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(vocabStream);
        if (vocabStream.CanSeek && vocabStream.Length - vocabStream.Position > MaxVocabularyFileBytes)
        {
            throw new InvalidDataException($"vocabulary has {vocabStream.Length - vocabStream.Position} bytes; at most {MaxVocabularyFileBytes} are accepted.");
        }

        using var reader = new StreamReader(vocabStream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, leaveOpen: true);
        var tokens = new List<string>();
        long chars = 0;
        while (reader.ReadLine() is { } line)
        {
            chars += line.Length + 1;
            if (chars > MaxVocabularyFileBytes)
            {
                throw new InvalidDataException($"vocabulary is longer than {MaxVocabularyFileBytes} characters.");
            }

            tokens.Add(line);
        }

        // A final empty line is the file's trailing newline, not a token.
        while (tokens.Count > 0 && tokens[^1].Length == 0)
        {
            tokens.RemoveAt(tokens.Count - 1);
        }

        if (tokens.Count == 0)
        {
            throw new InvalidDataException("vocabulary is empty.");
        }

        return FromTokens(tokens, options);
    }

    /// <summary>
    /// Loads a Hugging Face <c>tokenizer.json</c> whose model is WordPiece (the BERT family): vocabulary, unknown token,
    /// continuation prefix, maximum word length and the <c>BertNormalizer</c> settings are read from the file.
    /// </summary>
    /// <param name="tokenizerJsonPath">The file.</param>
    /// <exception cref="NotSupportedException">The model is not WordPiece.</exception>
    /// <exception cref="InvalidDataException">The file is malformed or too large.</exception>
    public static WordPieceTokenizer FromTokenizerJson(string tokenizerJsonPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(tokenizerJsonPath);
        var info = new FileInfo(tokenizerJsonPath);
        if (!info.Exists)
        {
            throw new FileNotFoundException($"Tokenizer file '{tokenizerJsonPath}' does not exist.", tokenizerJsonPath);
        }

        if (info.Length is 0 or > MaxTokenizerJsonBytes)
        {
            throw new InvalidDataException($"Tokenizer file '{tokenizerJsonPath}' has {info.Length} bytes; expected 1 to {MaxTokenizerJsonBytes}.");
        }

        JsonDocument document;
        try
        {
            using var stream = File.OpenRead(tokenizerJsonPath);
            document = JsonDocument.Parse(stream, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"Tokenizer file '{tokenizerJsonPath}' is not valid JSON: {ex.Message}", ex);
        }

        using (document)
        {
            var root = document.RootElement;
            if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"Tokenizer file '{tokenizerJsonPath}' has no \"model\" object.");
            }

            string type = model.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "";
            if (!string.Equals(type, "WordPiece", StringComparison.Ordinal))
            {
                throw new NotSupportedException(
                    $"Tokenizer file '{tokenizerJsonPath}' has a \"{type}\" model; only WordPiece (BERT-family) tokenizers are supported here.");
            }

            if (!model.TryGetProperty("vocab", out var vocabElement) || vocabElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"Tokenizer file '{tokenizerJsonPath}': model.vocab must be an object of token -> id.");
            }

            var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var entry in vocabElement.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id))
                {
                    throw new InvalidDataException($"Tokenizer file '{tokenizerJsonPath}': the id of token '{entry.Name}' is not an integer.");
                }

                vocab[entry.Name] = id;
            }

            var options = new WordPieceTokenizerOptions();
            if (model.TryGetProperty("unk_token", out var unk) && unk.ValueKind == JsonValueKind.String)
            {
                options = options with { UnknownToken = unk.GetString()! };
            }

            if (model.TryGetProperty("continuing_subword_prefix", out var prefix) && prefix.ValueKind == JsonValueKind.String)
            {
                options = options with { ContinuingSubwordPrefix = prefix.GetString()! };
            }

            if (model.TryGetProperty("max_input_chars_per_word", out var maxChars) && maxChars.TryGetInt32(out int max))
            {
                options = options with { MaxInputCharsPerWord = max };
            }

            options = ReadNormalizer(root, options);
            try
            {
                return new WordPieceTokenizer(vocab, options, $"Tokenizer file '{tokenizerJsonPath}'");
            }
            catch (ArgumentException ex)
            {
                throw new InvalidDataException($"Tokenizer file '{tokenizerJsonPath}': {ex.Message}", ex);
            }
        }
    }

    /// <summary>Encodes a text as <c>[CLS] … [SEP]</c> ids (no truncation).</summary>
    /// <param name="text">The text; null is treated as empty.</param>
    public int[] Encode(string? text)
    {
        var ids = new List<int>(16) { ClsId };
        AppendIds(text, ids);
        ids.Add(SepId);
        return [.. ids];
    }

    /// <summary>Appends the ids of a text, without <c>[CLS]</c>/<c>[SEP]</c>, to <paramref name="ids"/>.</summary>
    /// <param name="text">The text; null is treated as empty.</param>
    /// <param name="ids">The list to append to.</param>
    public void AppendIds(string? text, List<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (string.IsNullOrEmpty(text))
        {
            return;
        }

        int position = 0;
        while (position < text.Length)
        {
            var (at, special) = NextSpecialToken(text, position);
            AppendSegment(text.AsSpan(position, at - position), ids);
            if (special < 0)
            {
                break;
            }

            ids.Add(_specialTokens[special].Id);
            position = at + _specialTokens[special].Text.Length;
        }
    }

    /// <summary>The tokens of a text, without <c>[CLS]</c>/<c>[SEP]</c> (for display and debugging).</summary>
    /// <param name="text">The text.</param>
    public IReadOnlyList<string> Tokenize(string? text)
    {
        var ids = new List<int>();
        AppendIds(text, ids);
        var tokens = new string[ids.Count];
        for (int i = 0; i < tokens.Length; i++)
        {
            tokens[i] = _idToToken[ids[i]];
        }

        return tokens;
    }

    /// <summary>The token string of an id, or null when the id is not in the vocabulary.</summary>
    /// <param name="id">The id.</param>
    public string? IdToToken(int id) => id >= 0 && id < _idToToken.Length ? _idToToken[id] : null;

    /// <summary>The id of a token string, or null when it is not in the vocabulary.</summary>
    /// <param name="token">The token.</param>
    public int? TokenToId(string token) => _vocab.TryGetValue(token, out int id) ? id : null;

    private (int At, int Special) NextSpecialToken(string text, int start)
    {
        int best = text.Length;
        int bestIndex = -1;
        for (int i = 0; i < _specialTokens.Length; i++)
        {
            int at = text.IndexOf(_specialTokens[i].Text, start, StringComparison.Ordinal);
            if (at >= 0 && at < best)
            {
                best = at;
                bestIndex = i;
            }
        }

        return (best, bestIndex);
    }

    private void AppendSegment(ReadOnlySpan<char> segment, List<int> ids)
    {
        if (segment.IsEmpty)
        {
            return;
        }

        string normalized = Normalize(segment);
        var word = new StringBuilder();
        Span<char> buffer = stackalloc char[2];
        foreach (var rune in normalized.EnumerateRunes())
        {
            if (IsWhitespace(rune))
            {
                FlushWord(word, ids);
            }
            else if (IsPunctuation(rune))
            {
                FlushWord(word, ids);
                word.Append(rune.ToString());
                FlushWord(word, ids);
            }
            else
            {
                int written = rune.EncodeToUtf16(buffer);
                word.Append(buffer[..written]);
            }
        }

        FlushWord(word, ids);
    }

    /// <summary>Cleans the text, spaces out CJK ideographs, lower-cases and strips accents as configured.</summary>
    private string Normalize(ReadOnlySpan<char> segment)
    {
        var cleaned = new StringBuilder(segment.Length + 8);
        Span<char> buffer = stackalloc char[2];
        int index = 0;
        while (index < segment.Length)
        {
            if (Rune.DecodeFromUtf16(segment[index..], out var rune, out int consumed) != OperationStatus.Done)
            {
                // A lone surrogate is category Cs: removed like any other control character.
                index += Math.Max(consumed, 1);
                continue;
            }

            index += consumed;
            if (rune.Value == 0 || rune.Value == 0xFFFD || IsControl(rune))
            {
                continue;
            }

            if (IsWhitespace(rune))
            {
                cleaned.Append(' ');
            }
            else if (_handleChinese && IsChineseCharacter(rune.Value))
            {
                cleaned.Append(' ');
                cleaned.Append(buffer[..rune.EncodeToUtf16(buffer)]);
                cleaned.Append(' ');
            }
            else
            {
                cleaned.Append(buffer[..rune.EncodeToUtf16(buffer)]);
            }
        }

        string text = cleaned.ToString();
        if (_lowerCase)
        {
            text = LowerCaseWithFinalSigma(text);
        }

        if (_stripAccents)
        {
            text = StripAccentMarks(text);
        }

        return text;
    }

    private void FlushWord(StringBuilder word, List<int> ids)
    {
        if (word.Length == 0)
        {
            return;
        }

        string text = word.ToString();
        word.Clear();
        AppendWordPieces(text, ids);
    }

    /// <summary>Greedy longest-match-first WordPiece over one word; the whole word is <c>[UNK]</c> when any part cannot be matched.</summary>
    private void AppendWordPieces(string word, List<int> ids)
    {
        // Positions of scalar-value boundaries, so a piece never splits a surrogate pair.
        int runeCount = 0;
        foreach (var _ in word.EnumerateRunes())
        {
            runeCount++;
        }

        if (runeCount > _maxCharsPerWord)
        {
            ids.Add(UnknownId);
            return;
        }

        Span<int> boundaries = runeCount + 1 <= 128 ? stackalloc int[runeCount + 1] : new int[runeCount + 1];
        int b = 0;
        int offset = 0;
        foreach (var rune in word.EnumerateRunes())
        {
            boundaries[b++] = offset;
            offset += rune.Utf16SequenceLength;
        }

        boundaries[b] = word.Length;

        int mark = ids.Count;
        char[] rented = ArrayPool<char>.Shared.Rent(_prefix.Length + word.Length);
        try
        {
            _prefix.CopyTo(rented);
            int start = 0;
            while (start < runeCount)
            {
                int end = runeCount;
                int found = -1;
                while (start < end)
                {
                    var piece = word.AsSpan(boundaries[start], boundaries[end] - boundaries[start]);
                    ReadOnlySpan<char> key = piece;
                    if (start > 0)
                    {
                        piece.CopyTo(rented.AsSpan(_prefix.Length));
                        key = rented.AsSpan(0, _prefix.Length + piece.Length);
                    }

                    if (_lookup.TryGetValue(key, out int id))
                    {
                        found = id;
                        break;
                    }

                    end--;
                }

                if (found < 0)
                {
                    ids.RemoveRange(mark, ids.Count - mark);
                    ids.Add(UnknownId);
                    return;
                }

                ids.Add(found);
                start = end;
            }
        }
        finally
        {
            ArrayPool<char>.Shared.Return(rented);
        }
    }

    private int Require(string token, string optionName, string source) =>
        _vocab.TryGetValue(token, out int id)
            ? id
            : throw new InvalidDataException($"{source}: the {optionName} '{token}' is not in the vocabulary.");

    private static WordPieceTokenizerOptions ReadNormalizer(JsonElement root, WordPieceTokenizerOptions options)
    {
        if (!root.TryGetProperty("normalizer", out var normalizer) || normalizer.ValueKind != JsonValueKind.Object)
        {
            // No normalizer: a cased tokenizer that still splits CJK in the pre-tokenizer is unusual; keep text as is.
            return options with { LowerCase = false, StripAccents = false, HandleChineseCharacters = false };
        }

        string type = normalizer.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "";
        if (!string.Equals(type, "BertNormalizer", StringComparison.Ordinal))
        {
            throw new NotSupportedException($"normalizer \"{type}\" is not supported; only BertNormalizer (the BERT family) is.");
        }

        bool lowercase = !normalizer.TryGetProperty("lowercase", out var lower) || lower.ValueKind != JsonValueKind.False;
        bool? strip = normalizer.TryGetProperty("strip_accents", out var s) && s.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? s.ValueKind == JsonValueKind.True
            : null;
        bool chinese = !normalizer.TryGetProperty("handle_chinese_chars", out var c) || c.ValueKind != JsonValueKind.False;
        return options with { LowerCase = lowercase, StripAccents = strip, HandleChineseCharacters = chinese };
    }

    /// <summary>
    /// Lower-cases (invariant) with the two full-mapping rules Python, Rust and JavaScript apply and .NET's simple mapping
    /// lacks: U+0130 (capital I with dot) becomes "i" + U+0307, and a final capital sigma becomes U+03C2.
    /// </summary>
    internal static string LowerCaseWithFinalSigma(string text)
    {
        string lower = LowerCaseSimple(text);
        return text.Contains('\u0130', StringComparison.Ordinal) ? lower.Replace("\u0130", "i\u0307", StringComparison.Ordinal) : lower;
    }

    private static string LowerCaseSimple(string text)
    {
        string lower = text.ToLowerInvariant();
        if (lower.Length != text.Length || !text.Contains('\u03A3', StringComparison.Ordinal))
        {
            return lower;
        }

        char[]? chars = null;
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] != '\u03A3')
            {
                continue;
            }

            if (HasCasedLetter(text, i, -1) && !HasCasedLetter(text, i, +1))
            {
                chars ??= lower.ToCharArray();
                chars[i] = '\u03C2';
            }
        }

        return chars is null ? lower : new string(chars);
    }

    private static bool HasCasedLetter(string text, int from, int step)
    {
        for (int i = from + step; i >= 0 && i < text.Length; i += step)
        {
            var category = CharUnicodeInfo.GetUnicodeCategory(text[i]);
            switch (category)
            {
                case UnicodeCategory.NonSpacingMark:
                case UnicodeCategory.EnclosingMark:
                case UnicodeCategory.Format:
                case UnicodeCategory.ModifierLetter:
                case UnicodeCategory.ModifierSymbol:
                    continue; // case-ignorable
                case UnicodeCategory.UppercaseLetter:
                case UnicodeCategory.LowercaseLetter:
                case UnicodeCategory.TitlecaseLetter:
                    return true;
                default:
                    return false;
            }
        }

        return false;
    }

    private static string StripAccentMarks(string text)
    {
        bool ascii = true;
        foreach (char ch in text)
        {
            if (ch > 0x7F)
            {
                ascii = false;
                break;
            }
        }

        if (ascii)
        {
            return text;
        }

        string decomposed = text.Normalize(NormalizationForm.FormD);
        var result = new StringBuilder(decomposed.Length);
        foreach (var rune in decomposed.EnumerateRunes())
        {
            if (Rune.GetUnicodeCategory(rune) != UnicodeCategory.NonSpacingMark)
            {
                result.Append(rune.ToString());
            }
        }

        return result.ToString();
    }

    internal static bool IsWhitespace(Rune rune)
    {
        int value = rune.Value;
        if (value is ' ' or '\t' or '\n' or '\r')
        {
            return true;
        }

        return Rune.GetUnicodeCategory(rune) is UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator;
    }

    internal static bool IsControl(Rune rune)
    {
        if (rune.Value is '\t' or '\n' or '\r')
        {
            return false;
        }

        return Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.PrivateUse
            or UnicodeCategory.Surrogate or UnicodeCategory.OtherNotAssigned;
    }

    internal static bool IsPunctuation(Rune rune)
    {
        int cp = rune.Value;
        // BERT counts every non-letter, non-digit ASCII symbol as punctuation ($, +, <, =, >, ^, `, |, ~ included).
        if (cp is (>= 33 and <= 47) or (>= 58 and <= 64) or (>= 91 and <= 96) or (>= 123 and <= 126))
        {
            return true;
        }

        return Rune.GetUnicodeCategory(rune) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
    }

    /// <summary>The CJK Unified Ideographs blocks BERT splits (not kana or Hangul, which are written with spaces).</summary>
    internal static bool IsChineseCharacter(int cp) =>
        cp is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF)
            or (>= 0x2A700 and <= 0x2B73F) or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B820 and <= 0x2CEAF)
            or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);
}
