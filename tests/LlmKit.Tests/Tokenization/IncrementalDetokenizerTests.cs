using System.Text;
using LlmKit.Tokenization;

namespace LlmKit.Tests.Tokenization;

public class IncrementalDetokenizerTests
{
    // A tiny SentencePiece-style vocabulary: specials, byte pieces for every byte, and a few words.
    private static TokenByteTable Table()
    {
        var vocab = new List<KeyValuePair<string, int>> { new("<unk>", 0), new("<s>", 1), new("</s>", 2) };
        for (int b = 0; b < 256; b++)
        {
            vocab.Add(new($"<0x{b:X2}>", 3 + b));
        }

        vocab.Add(new("\u2581Hello", 259));
        vocab.Add(new("\u2581world", 260));
        return TokenByteTable.ForSentencePiece(vocab, 261, new HashSet<int> { 0, 1, 2 });
    }

    [Fact]
    public void Multi_byte_character_from_byte_pieces_is_emitted_only_when_complete()
    {
        var detokenizer = new IncrementalDetokenizer(Table(), stripLeadingSpace: false);
        byte[] euro = Encoding.UTF8.GetBytes("€"); // E2 82 AC

        Assert.Equal("", detokenizer.Append(3 + euro[0]).ToString());
        Assert.Equal("", detokenizer.Append(3 + euro[1]).ToString());
        Assert.Equal("€", detokenizer.Append(3 + euro[2]).ToString());
    }

    [Fact]
    public void Leading_dummy_prefix_space_is_stripped_only_at_sequence_start()
    {
        var atStart = new IncrementalDetokenizer(Table(), stripLeadingSpace: true);
        Assert.Equal("Hello", atStart.Append(259).ToString());
        Assert.Equal(" world", atStart.Append(260).ToString());

        var continuing = new IncrementalDetokenizer(Table(), stripLeadingSpace: false);
        Assert.Equal(" Hello", continuing.Append(259).ToString());
    }

    [Fact]
    public void Special_tokens_decode_to_nothing_and_flush_reports_a_truncated_character()
    {
        var detokenizer = new IncrementalDetokenizer(Table(), stripLeadingSpace: false);
        Assert.Equal("", detokenizer.Append(2).ToString());
        Assert.Equal("", detokenizer.Append(3 + 0xE2).ToString());
        Assert.Equal("\uFFFD", detokenizer.Flush().ToString());
    }
}
