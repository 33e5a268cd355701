using System.Text;

namespace LlmKit.Tokenization;

/// <summary>
/// Turns a stream of token ids into text one token at a time. Bytes of an incomplete UTF-8 character are
/// held back until the character is complete, so a streamed chunk never carries a broken character.
/// </summary>
/// <remarks>Not thread-safe: one instance per generated sequence. Allocates nothing per token.</remarks>
public sealed class IncrementalDetokenizer
{
    private readonly TokenByteTable _table;
    private readonly Decoder _utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
    private char[] _chars = new char[64];
    private bool _stripNextLeadingSpace;

    internal IncrementalDetokenizer(TokenByteTable table, bool stripLeadingSpace)
    {
        _table = table;
        _stripNextLeadingSpace = stripLeadingSpace;
    }

    /// <summary>
    /// Adds one token and returns the text it completes. The span is valid until the next call.
    /// It may be empty (a special token, or the first bytes of a multi-byte character).
    /// </summary>
    public ReadOnlySpan<char> Append(int tokenId)
    {
        var bytes = _table[tokenId];
        return Decode(bytes, flush: false);
    }

    /// <summary>Returns any text still held back (an incomplete character becomes U+FFFD) and resets the decoder.</summary>
    public ReadOnlySpan<char> Flush() => Decode(ReadOnlySpan<byte>.Empty, flush: true);

    private ReadOnlySpan<char> Decode(ReadOnlySpan<byte> bytes, bool flush)
    {
        int needed = _utf8.GetCharCount(bytes, flush);
        if (needed > _chars.Length)
        {
            _chars = new char[Math.Max(needed, _chars.Length * 2)];
        }

        int count = _utf8.GetChars(bytes, _chars, flush);
        var text = new ReadOnlySpan<char>(_chars, 0, count);
        if (_stripNextLeadingSpace && count > 0)
        {
            // SentencePiece's dummy prefix: the first piece of a decoded sequence starts with a space that the text did not have.
            _stripNextLeadingSpace = false;
            if (text[0] == ' ')
            {
                text = text[1..];
            }
        }

        return text;
    }
}
