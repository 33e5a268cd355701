using System.Text;
using System.Text.Json;
using LlmKit.Embeddings.Tokenization;

namespace LlmKit.Embeddings.Tests;

/// <summary>
/// LlmKit's WordPiece tokenizer against ids made by Hugging Face's tokenizer (@huggingface/transformers, see
/// TestData/README.md) over the same vocab.txt: every id must be identical.
/// </summary>
[Collection(MiniLmCollection.Name)]
public sealed class WordPieceTokenizerParityTests(MiniLmFixture fixture)
{
    private static readonly Lazy<(string Text, int[] Ids)[]> Reference = new(LoadReference);

    public static TheoryData<int> CaseIndexes()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < Reference.Value.Length; i++)
        {
            data.Add(i);
        }

        return data;
    }

    [Fact]
    public void Reference_file_covers_the_required_cases()
    {
        var cases = Reference.Value;
        Assert.True(cases.Length >= 100, $"expected at least 100 reference texts, found {cases.Length}");
        Assert.Contains(cases, c => c.Text.Contains('\t', StringComparison.Ordinal));
        Assert.Contains(cases, c => c.Text.Contains('\n', StringComparison.Ordinal));
        foreach (char ch in "$+=<>^`|~")
        {
            Assert.Contains(cases, c => c.Text.Contains(ch, StringComparison.Ordinal));
        }
    }

    [Theory]
    [MemberData(nameof(CaseIndexes))]
    public void Ids_match_hugging_face(int index)
    {
        var (text, expected) = Reference.Value[index];
        int[] actual = fixture.Tokenizer.Encode(text);
        Assert.True(expected.AsSpan().SequenceEqual(actual),
            $"text {index} {JsonSerializer.Serialize(text)}\nexpected {string.Join(' ', expected)}\nactual   {string.Join(' ', actual)}\n" +
            $"actual tokens: {string.Join(' ', fixture.Tokenizer.Tokenize(text))}");
    }

    [Fact]
    public void Keeps_the_symbols_other_bert_tokenizers_drop_and_splits_on_tabs_and_newlines()
    {
        var tokens = fixture.Tokenizer.Tokenize("a$b+c=d<e>f^g`h|i~j\tk\nl");
        Assert.Equal(["a", "$", "b", "+", "c", "=", "d", "<", "e", ">", "f", "^", "g", "`", "h", "|", "i", "~", "j", "k", "l"], tokens);
    }

    [Fact]
    public void Unknown_only_for_words_the_vocabulary_cannot_cover()
    {
        Assert.Equal(["q", "##z", "##x", "##v"], fixture.Tokenizer.Tokenize("qzxv"));
        Assert.Equal(["[UNK]"], fixture.Tokenizer.Tokenize(new string('z', 101)));
        Assert.Equal(100, fixture.Tokenizer.Tokenize(new string('y', 100)).Count);
        Assert.Equal(["[UNK]"], fixture.Tokenizer.Tokenize("\U0001F600"));
    }

    [Fact]
    public void Tokenizer_json_gives_the_same_ids_as_vocab_txt()
    {
        string directory = Path.Combine(Path.GetTempPath(), $"llmkit-tokjson-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        try
        {
            string path = Path.Combine(directory, "tokenizer.json");
            File.WriteAllText(path, BuildTokenizerJson(Path.Combine(fixture.Folder, "vocab.txt")), Encoding.UTF8);
            var fromJson = WordPieceTokenizer.FromTokenizerJson(path);
            Assert.True(fromJson.LowerCase);
            foreach (var (text, ids) in Reference.Value)
            {
                Assert.Equal(ids, fromJson.Encode(text));
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Cased_vocabulary_keeps_case_and_accents()
    {
        var cased = WordPieceTokenizer.FromTokens(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "Café", "café", "cafe", "##s", "!"], new WordPieceTokenizerOptions { LowerCase = false });
        Assert.Equal(["Café", "##s", "!"], cased.Tokenize("Cafés!"));
        var uncased = WordPieceTokenizer.FromTokens(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "Café", "café", "cafe", "##s", "!"]);
        Assert.Equal(["cafe", "##s", "!"], uncased.Tokenize("Cafés!"));
    }

    [Fact]
    public void Bad_vocabularies_are_rejected_with_the_reason()
    {
        var missing = Assert.Throws<InvalidDataException>(() => WordPieceTokenizer.FromTokens(["[PAD]", "[CLS]", "[SEP]", "a"]));
        Assert.Contains("[UNK]", missing.Message, StringComparison.Ordinal);
        var repeated = Assert.Throws<InvalidDataException>(() => WordPieceTokenizer.FromTokens(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "a"]));
        Assert.Contains("appears twice", repeated.Message, StringComparison.Ordinal);
        Assert.Throws<FileNotFoundException>(() => WordPieceTokenizer.FromVocabFile(Path.Combine(Path.GetTempPath(), "no-such-vocab.txt")));
    }

    private static (string Text, int[] Ids)[] LoadReference()
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(Fixtures.TestData("bert-uncased-reference-ids.json")));
        var cases = new List<(string, int[])>();
        foreach (var item in document.RootElement.GetProperty("cases").EnumerateArray())
        {
            var ids = new List<int>();
            foreach (var id in item.GetProperty("ids").EnumerateArray())
            {
                ids.Add(id.GetInt32());
            }

            cases.Add((item.GetProperty("text").GetString()!, [.. ids]));
        }

        return [.. cases];
    }

    private static string BuildTokenizerJson(string vocabPath)
    {
        var vocab = new Dictionary<string, int>();
        int id = 0;
        foreach (var line in File.ReadLines(vocabPath))
        {
            vocab[line] = id++;
        }

        var json = new
        {
            version = "1.0",
            normalizer = new { type = "BertNormalizer", clean_text = true, handle_chinese_chars = true, strip_accents = (bool?)null, lowercase = true },
            pre_tokenizer = new { type = "BertPreTokenizer" },
            model = new { type = "WordPiece", unk_token = "[UNK]", continuing_subword_prefix = "##", max_input_chars_per_word = 100, vocab },
        };
        return JsonSerializer.Serialize(json);
    }
}
