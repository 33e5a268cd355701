using System.Globalization;
using System.Text;

namespace LlmKit.Tokenization;

/// <summary>
/// The UTF-8 bytes each token id stands for, so text can be rebuilt token by token without ever
/// splitting a multi-byte character (byte-fallback pieces such as <c>&lt;0xE2&gt;</c> carry one byte each).
/// </summary>
internal sealed class TokenByteTable
{
    private readonly byte[][] _bytes;

    private TokenByteTable(byte[][] bytes) => _bytes = bytes;

    /// <summary>No tokens: for byte-level questions about a constraint that need no vocabulary.</summary>
    public static TokenByteTable Empty { get; } = new([]);

    public int Count => _bytes.Length;

    public ReadOnlySpan<byte> this[int id] => (uint)id < (uint)_bytes.Length ? _bytes[id] : ReadOnlySpan<byte>.Empty;

    /// <summary>SentencePiece vocabularies: U+2581 is a space, <c>&lt;0xAB&gt;</c> is one raw byte, special tokens decode to nothing.</summary>
    public static TokenByteTable ForSentencePiece(IEnumerable<KeyValuePair<string, int>> vocabulary, int size, ISet<int> specialIds)
    {
        var bytes = new byte[size][];
        foreach (var (piece, id) in vocabulary)
        {
            if ((uint)id >= (uint)size)
            {
                continue;
            }

            bytes[id] = specialIds.Contains(id) ? [] : PieceBytes(piece);
        }

        FillMissing(bytes);
        return new TokenByteTable(bytes);
    }

    /// <summary>Byte-level BPE vocabularies (GPT-2, Llama 3, Qwen): each character of a piece maps back to one byte.</summary>
    public static TokenByteTable ForByteLevel(IEnumerable<KeyValuePair<string, int>> vocabulary, int size, IReadOnlyDictionary<int, string> specialTokens, bool decodeSpecialTokens)
    {
        var charToByte = ByteLevelAlphabet.CharToByte;
        var bytes = new byte[size][];
        foreach (var (piece, id) in vocabulary)
        {
            if ((uint)id >= (uint)size)
            {
                continue;
            }

            var buffer = new byte[piece.Length];
            int n = 0;
            bool mapped = true;
            foreach (char c in piece)
            {
                if (!charToByte.TryGetValue(c, out byte b))
                {
                    mapped = false;
                    break;
                }

                buffer[n++] = b;
            }

            bytes[id] = mapped ? buffer[..n] : Encoding.UTF8.GetBytes(piece);
        }

        foreach (var (id, text) in specialTokens)
        {
            if ((uint)id < (uint)size)
            {
                bytes[id] = decodeSpecialTokens ? Encoding.UTF8.GetBytes(text) : [];
            }
        }

        FillMissing(bytes);
        return new TokenByteTable(bytes);
    }

    private static byte[] PieceBytes(string piece)
    {
        if (piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
            && byte.TryParse(piece.AsSpan(3, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out byte raw))
        {
            return [raw];
        }

        return Encoding.UTF8.GetBytes(piece.Replace('\u2581', ' '));
    }

    private static void FillMissing(byte[][] bytes)
    {
        for (int i = 0; i < bytes.Length; i++)
        {
            bytes[i] ??= [];
        }
    }
}

/// <summary>GPT-2's reversible byte-to-printable-character alphabet used by byte-level BPE vocabularies.</summary>
internal static class ByteLevelAlphabet
{
    public static readonly IReadOnlyDictionary<char, byte> CharToByte = Build();

    private static Dictionary<char, byte> Build()
    {
        // Printable Latin-1 bytes map to themselves; the rest are shifted to 256+ in byte order.
        var map = new Dictionary<char, byte>(256);
        int shifted = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char)b : (char)(256 + shifted++);
            map[c] = (byte)b;
        }

        return map;
    }
}
