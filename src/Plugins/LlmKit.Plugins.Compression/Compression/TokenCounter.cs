using System.Collections.Concurrent;
using Microsoft.ML.Tokenizers;

namespace LlmKit.Plugins.Compression;

/// <summary>
/// Counts tokens exactly, fast. For a SentencePiece vocabulary in which no piece has a space after its first
/// character, no token crosses a space, so a text's count is the sum of its space-separated chunks' counts;
/// those are cached, which makes counting large and repeated texts (the compressor's calibration) many times
/// faster than re-tokenising. Any other tokenizer is asked directly. Thread-safe.
/// </summary>
internal sealed class TokenCounter
{
    private const char SentencePieceSpace = '\u2581';
    private const string Anchor = "a";
    private const int MaxCachedChunks = 200_000;

    // Double spaces, punctuation, digits, line breaks, non-ASCII: a chunked count must equal the full count on it.
    private const string SelfTest = "Once upon a time,  Lily's mom said: \"Let's go!\" 19:30 — café\n\nThe end.  ";

    private readonly Tokenizer _tokenizer;
    private readonly ConcurrentDictionary<string, int> _chunks = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly int _anchorTokens;

    public TokenCounter(Tokenizer tokenizer)
    {
        _tokenizer = tokenizer;
        _lookup = _chunks.GetAlternateLookup<ReadOnlySpan<char>>();
        if (tokenizer is SentencePieceTokenizer sentencePiece && !sentencePiece.TreatWhitespaceAsSuffix && NoPieceCrossesASpace(sentencePiece))
        {
            _anchorTokens = tokenizer.CountTokens(Anchor);
            IsChunked = true;
            IsChunked = Count(SelfTest) == tokenizer.CountTokens(SelfTest) && Count(SelfTest[1..]) == tokenizer.CountTokens(SelfTest[1..]);
            _chunks.Clear();
        }
    }

    /// <summary>True when counts are summed over cached space-separated chunks.</summary>
    public bool IsChunked { get; }

    public int Count(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return 0;
        }

        if (!IsChunked)
        {
            return _tokenizer.CountTokens(text);
        }

        if (_chunks.Count > MaxCachedChunks)
        {
            _chunks.Clear();
        }

        ReadOnlySpan<char> span = text;
        int firstBoundary = span.Length > 1 ? span[1..].IndexOf(' ') : -1;
        int end = firstBoundary < 0 ? span.Length : firstBoundary + 1;

        // The first chunk is counted as it stands (dummy prefix and BOS included, as in the whole text).
        int total = _tokenizer.CountTokens(span[..end]);
        int start = end;
        while (start < span.Length)
        {
            int next = span[(start + 1)..].IndexOf(' ');
            end = next < 0 ? span.Length : start + 1 + next;
            total += ChunkTokens(span[start..end]);
            start = end;
        }

        return total;
    }

    /// <summary>Tokens of a chunk that starts with a space, as it counts after preceding text.</summary>
    private int ChunkTokens(ReadOnlySpan<char> chunk)
    {
        if (_lookup.TryGetValue(chunk, out int count))
        {
            return count;
        }

        string key = chunk.ToString();
        count = _tokenizer.CountTokens(Anchor + key) - _anchorTokens;
        _chunks.TryAdd(key, count);
        return count;
    }

    private static bool NoPieceCrossesASpace(SentencePieceTokenizer tokenizer)
    {
        foreach (string piece in tokenizer.Vocabulary.Keys)
        {
            for (int i = 1; i < piece.Length; i++)
            {
                if (piece[i] == SentencePieceSpace || piece[i] == ' ')
                {
                    return false;
                }
            }
        }

        return true;
    }
}
