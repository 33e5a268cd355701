using Microsoft.ML.Tokenizers;

namespace LlmKit.Plugins.Compression;

/// <summary>
/// A text as the scorer's token ids, each with the span of original characters it stands for. Spans tile the
/// text with no gap (a gap the tokenizer skipped joins the following token), so keeping a subset of tokens and
/// concatenating their spans rebuilds exactly the kept text.
/// </summary>
internal sealed class TokenizedText
{
    private const char SentencePieceSpace = '\u2581';

    private TokenizedText(string text, int[] ids, int[] starts)
    {
        Text = text;
        Ids = ids;
        Starts = starts;
    }

    public string Text { get; }

    public int[] Ids { get; }

    /// <summary>Start of each token's span in <see cref="Text"/>; token i ends where token i+1 starts.</summary>
    public int[] Starts { get; }

    public int Count => Ids.Length;

    public int End(int index) => index + 1 < Starts.Length ? Starts[index + 1] : Text.Length;

    public static TokenizedText Create(Tokenizer tokenizer, string text)
    {
        IReadOnlyList<EncodedToken> tokens = tokenizer.EncodeToTokens(text, out string? normalized);
        int[]? map = normalized is null || string.Equals(normalized, text, StringComparison.Ordinal) ? null : Align(normalized, text);
        var ids = new List<int>(tokens.Count);
        var starts = new List<int>(tokens.Count);
        foreach (EncodedToken token in tokens)
        {
            (int start, int end) = (token.Offset.Start.Value, token.Offset.End.Value);
            if (end <= start)
            {
                // Zero-width tokens are specials such as BOS; the scorer adds BOS itself.
                continue;
            }

            ids.Add(token.Id);
            starts.Add(map is null ? Math.Min(start, text.Length) : map[start]);
        }

        if (starts.Count > 0)
        {
            starts[0] = 0;
        }

        // Offsets must not go backwards for the tiling to hold (a tokenizer may report overlapping byte pieces).
        for (int i = 1; i < starts.Count; i++)
        {
            starts[i] = Math.Max(starts[i], starts[i - 1]);
        }

        return new TokenizedText(text, [.. ids], [.. starts]);
    }

    /// <summary>
    /// Maps each index of a normalised text (SentencePiece: dummy prefix, spaces as U+2581, collapsed whitespace)
    /// to the original index of the same character, or to the next original character for inserted ones.
    /// </summary>
    internal static int[] Align(string normalized, string original)
    {
        var map = new int[normalized.Length + 1];
        int i = 0;
        for (int j = 0; j < normalized.Length; j++)
        {
            char n = normalized[j];
            bool normalizedSpace = n == SentencePieceSpace || char.IsWhiteSpace(n);
            if (normalizedSpace)
            {
                if (i < original.Length && char.IsWhiteSpace(original[i]))
                {
                    map[j] = i++;
                }
                else
                {
                    map[j] = i;
                }

                continue;
            }

            // Whitespace the normaliser removed belongs to the following character.
            int skippedFrom = i;
            while (i < original.Length && char.IsWhiteSpace(original[i]) && !char.IsWhiteSpace(n))
            {
                i++;
            }

            map[j] = skippedFrom < i ? skippedFrom : i;
            if (i < original.Length)
            {
                i++;
            }
        }

        map[normalized.Length] = original.Length;
        return map;
    }
}
