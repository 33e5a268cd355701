using System.Text;

namespace LlmKit.ModelBuilder;

/// <summary>
/// The SentencePiece BPE encoding of llama2.c's <c>encode()</c>, kept as plain as the original: prepend one
/// space (dummy prefix) to non-empty text, map each UTF-8 character to its piece or else to its byte-fallback
/// pieces &lt;0xXX&gt;, then repeatedly merge the adjacent pair whose concatenation is a piece with the highest
/// score (leftmost on ties) until no pair merges. The ground truth the converted <c>tokenizer.model</c> is
/// tested against. Immutable and thread-safe.
/// </summary>
public sealed class ReferenceBpeEncoder
{
    private readonly Llama2cTokenizerFile _tokenizer;
    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);

    /// <summary>Creates an encoder over a llama2.c tokenizer.</summary>
    /// <param name="tokenizer">The vocabulary and merge scores.</param>
    public ReferenceBpeEncoder(Llama2cTokenizerFile tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        _tokenizer = tokenizer;
        for (int id = 0; id < tokenizer.VocabSize; id++)
        {
            // Only ordinary pieces take part in lookups and merges; control and byte pieces are never formed from text.
            if (IsOrdinaryPiece(id))
            {
                _ids.TryAdd(tokenizer.Pieces[id], id);
            }
        }
    }

    /// <summary>Encodes text into token ids.</summary>
    /// <param name="text">Any text; characters outside the vocabulary become byte pieces.</param>
    /// <param name="addBos">Prepend the BOS id (1), as a prompt does.</param>
    public int[] Encode(string text, bool addBos = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tokens = new List<int>(text.Length + 2);
        if (addBos)
        {
            tokens.Add(Llama2cTokenizerFile.BosId);
        }

        int first = tokens.Count;
        if (text.Length > 0)
        {
            AppendCharacters(" " + text, tokens);
        }

        MergePairs(tokens, first);
        return [.. tokens];
    }

    /// <summary>
    /// Decodes ids back to text: byte pieces become their bytes, the dummy-prefix space of the first piece is
    /// dropped, and BOS/EOS produce nothing.
    /// </summary>
    /// <param name="ids">Token ids.</param>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(id, nameof(ids));
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(id, _tokenizer.VocabSize, nameof(ids));
            if (Llama2cTokenizerFile.IsByteId(id))
            {
                bytes.Add((byte)(id - Llama2cTokenizerFile.FirstByteId));
            }
            else if (IsOrdinaryPiece(id))
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(_tokenizer.Pieces[id]));
            }
        }

        string text = Encoding.UTF8.GetString([.. bytes]);
        return text.StartsWith(' ') ? text[1..] : text;
    }

    private bool IsOrdinaryPiece(int id) =>
        id > Llama2cTokenizerFile.EosId && !Llama2cTokenizerFile.IsByteId(id);

    private void AppendCharacters(string text, List<int> tokens)
    {
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < text.Length; i += char.IsSurrogatePair(text, i) ? 2 : 1)
        {
            string character = char.IsSurrogatePair(text, i) ? text.Substring(i, 2) : text[i].ToString();
            if (_ids.TryGetValue(character, out int id))
            {
                tokens.Add(id);
                continue;
            }

            // Byte fallback. A lone surrogate is not valid UTF-8; encode it as U+FFFD like SentencePiece does.
            int count = Encoding.UTF8.GetBytes(character.AsSpan(), utf8);
            foreach (byte b in utf8[..count])
            {
                tokens.Add(Llama2cTokenizerFile.FirstByteId + b);
            }
        }
    }

    private void MergePairs(List<int> tokens, int first)
    {
        while (true)
        {
            float bestScore = float.NegativeInfinity;
            int bestId = -1, bestIndex = -1;
            for (int i = first; i < tokens.Count - 1; i++)
            {
                if (!IsOrdinaryPiece(tokens[i]) || !IsOrdinaryPiece(tokens[i + 1]))
                {
                    continue;
                }

                string merged = _tokenizer.Pieces[tokens[i]] + _tokenizer.Pieces[tokens[i + 1]];
                if (_ids.TryGetValue(merged, out int id) && _tokenizer.Scores[id] > bestScore)
                {
                    bestScore = _tokenizer.Scores[id];
                    bestId = id;
                    bestIndex = i;
                }
            }

            if (bestIndex < 0)
            {
                return;
            }

            tokens[bestIndex] = bestId;
            tokens.RemoveAt(bestIndex + 1);
        }
    }
}
