using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.ML.Tokenizers;

namespace LlmKit.Plugins.Compression.Scoring;

/// <summary>
/// A model-free, open-vocabulary tokenizer: a token is a word (letters/digits with its leading spaces),
/// one punctuation or symbol character, a line break, or a run of other whitespace. Ids are assigned on first sight.
/// </summary>
/// <remarks>
/// Used only when no model tokenizer is known (e.g. a remote chat service). Real BPE tokenizers produce
/// roughly 1.2–1.5 tokens per English word, so counts from this tokenizer are an approximation; register the
/// target model's <see cref="Tokenizer"/> for exact counts. Thread-safe: the vocabulary is a concurrent map.
/// </remarks>
public sealed class WordTokenizer : Tokenizer
{
    private readonly ConcurrentDictionary<string, int> _ids = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<int, string> _pieces = new();
    private int _nextId;

    /// <summary>Number of distinct pieces seen so far.</summary>
    public int VocabularySize => _ids.Count;

    /// <inheritdoc />
    protected override EncodeResults<EncodedToken> EncodeToTokens(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings)
    {
        ReadOnlySpan<char> span = text is null ? textSpan : text.AsSpan();
        var tokens = new List<EncodedToken>();
        int max = settings.MaxTokenCount <= 0 ? int.MaxValue : settings.MaxTokenCount;
        int position = 0;
        while (position < span.Length && tokens.Count < max)
        {
            int length = NextPieceLength(span, position);
            string piece = span.Slice(position, length).ToString();
            tokens.Add(new EncodedToken(IdOf(piece), piece, new Range(position, position + length)));
            position += length;
        }

        return new EncodeResults<EncodedToken> { Tokens = tokens, CharsConsumed = position, NormalizedText = null };
    }

    /// <inheritdoc />
    public override OperationStatus Decode(IEnumerable<int> ids, Span<char> destination, out int idsConsumed, out int charsWritten)
    {
        ArgumentNullException.ThrowIfNull(ids);
        idsConsumed = 0;
        charsWritten = 0;
        foreach (int id in ids)
        {
            if (!_pieces.TryGetValue(id, out string? piece))
            {
                return OperationStatus.InvalidData;
            }

            if (piece.Length > destination.Length - charsWritten)
            {
                return OperationStatus.DestinationTooSmall;
            }

            piece.AsSpan().CopyTo(destination[charsWritten..]);
            charsWritten += piece.Length;
            idsConsumed++;
        }

        return OperationStatus.Done;
    }

    /// <summary>Length of the piece starting at <paramref name="start"/>.</summary>
    internal static int NextPieceLength(ReadOnlySpan<char> text, int start)
    {
        char first = text[start];
        if (first == '\n')
        {
            return 1;
        }

        int i = start;
        if (char.IsWhiteSpace(first))
        {
            // Spaces attach to the following word, like a SentencePiece "▁word" piece.
            while (i < text.Length && text[i] != '\n' && char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            if (i == text.Length || !char.IsLetterOrDigit(text[i]))
            {
                return i - start;
            }
        }

        if (!char.IsLetterOrDigit(text[i]))
        {
            return i - start + 1;
        }

        while (i < text.Length && char.IsLetterOrDigit(text[i]))
        {
            i++;
        }

        return i - start;
    }

    private int IdOf(string piece)
    {
        if (_ids.TryGetValue(piece, out int id))
        {
            return id;
        }

        lock (_pieces)
        {
            if (_ids.TryGetValue(piece, out id))
            {
                return id;
            }

            id = _nextId++;
            _pieces[id] = piece;
            _ids[piece] = id;
            return id;
        }
    }
}
