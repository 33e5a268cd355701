using LlmKit.Plugins.FewShot.Storage;
using LlmKit.Testing;

namespace LlmKit.Plugins.FewShot.Tests;

public class LoaderTests
{
    [Fact]
    public async Task Jsonl_reads_fields_labels_and_metadata_and_skips_blank_lines()
    {
        const string text = """
            {"input": "2 + 2", "output": "4", "label": "math", "metadata": {"source": "hand", "difficulty": 1}}

            {"input": "capital of France", "output": "Paris"}
            {"input": "great food", "label": "positive"}
            """;
        var examples = await FewShotExampleLoader.ReadJsonLinesAsync(new StringReader(text));
        Assert.Equal(3, examples.Count);
        Assert.Equal(("2 + 2", "4", "math"), (examples[0].Input, examples[0].Output, examples[0].Label));
        Assert.Equal("hand", examples[0].Metadata["source"]);
        Assert.Equal("1", examples[0].Metadata["difficulty"]);
        Assert.Null(examples[1].Label);
        Assert.Equal("positive", examples[2].Output); // the label stands in for a missing output
    }

    [Theory]
    [InlineData("{\"input\": \"a\", \"output\": \"b\"}\n{\"input\": \"c\", \"output\": }", 2, "not valid JSON")]
    [InlineData("{\"input\": \"a\", \"output\": \"b\"}\n\n[1, 2]", 3, "expected a JSON object")]
    [InlineData("{\"output\": \"b\"}", 1, "\"input\" property is missing")]
    [InlineData("{\"input\": \"a\"}", 1, "\"output\" property is missing")]
    [InlineData("{\"input\": {\"x\": 1}, \"output\": \"b\"}", 1, "must be a string")]
    public async Task Malformed_jsonl_names_the_line(string text, int line, string problem)
    {
        var ex = await Assert.ThrowsAsync<ExampleFileFormatException>(() => FewShotExampleLoader.ReadJsonLinesAsync(new StringReader(text), "examples.jsonl"));
        Assert.Equal(line, ex.LineNumber);
        Assert.StartsWith($"examples.jsonl, line {line}:", ex.Message, StringComparison.Ordinal);
        Assert.Contains(problem, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Csv_handles_quotes_embedded_delimiters_and_line_breaks()
    {
        const string text = "label,input,output\n" +
            "greet,\"Hello, world\",\"Hi \"\"there\"\"\"\n" +
            "multi,\"two\nlines\",ok\n";
        var examples = await FewShotExampleLoader.ReadDelimitedAsync(new StringReader(text), DelimitedExampleFormat.Csv);
        Assert.Equal(2, examples.Count);
        Assert.Equal(("Hello, world", "Hi \"there\"", "greet"), (examples[0].Input, examples[0].Output, examples[0].Label));
        Assert.Equal("two\nlines", examples[1].Input);
    }

    [Fact]
    public async Task Csv_errors_name_the_line()
    {
        const string text = "input,output\nfine,1\nmissing\n";
        var ex = await Assert.ThrowsAsync<ExampleFileFormatException>(() => FewShotExampleLoader.ReadDelimitedAsync(new StringReader(text), DelimitedExampleFormat.Csv, "data.csv"));
        Assert.Equal(3, ex.LineNumber);
        Assert.Contains("expected at least 2 fields", ex.Message, StringComparison.Ordinal);

        var unclosed = await Assert.ThrowsAsync<ExampleFileFormatException>(() => FewShotExampleLoader.ReadDelimitedAsync(new StringReader("input,output\n\"open,1\n"), DelimitedExampleFormat.Csv));
        Assert.Equal(2, unclosed.LineNumber);
    }

    [Fact]
    public async Task Csv_without_an_output_column_uses_the_label_like_jsonl()
    {
        var examples = await FewShotExampleLoader.ReadDelimitedAsync(new StringReader("input,label\ngreat food,positive\n"), DelimitedExampleFormat.Csv);
        Assert.Equal(("great food", "positive", "positive"), (examples[0].Input, examples[0].Output, examples[0].Label));
        var neither = await Assert.ThrowsAsync<ArgumentException>(() => FewShotExampleLoader.ReadDelimitedAsync(new StringReader("input,notes\na,b\n"), DelimitedExampleFormat.Csv));
        Assert.Contains("neither an output column nor a label column", neither.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_column_is_reported_with_the_header()
    {
        var format = DelimitedExampleFormat.Csv with { InputColumn = "question" };
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => FewShotExampleLoader.ReadDelimitedAsync(new StringReader("input,output\na,b\n"), format));
        Assert.Contains("question", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[input, output]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Headerless_sentiment_tsv_loads_with_label_names()
    {
        var format = new DelimitedExampleFormat
        {
            Delimiter = '\t',
            Quoted = false,
            HasHeader = false,
            InputColumn = "0",
            OutputColumn = null,
            LabelColumn = "1",
            LabelNames = new Dictionary<string, string> { ["0"] = "negative", ["1"] = "positive" },
        };
        var examples = await FewShotExampleLoader.LoadDelimitedAsync(SharedFixtures.File("datasets/sentiment-sentences/yelp_labelled.txt"), format);
        Assert.Equal(1000, examples.Count); // README: 1,000 sentences, 500 per label
        Assert.Equal(500, examples.Count(e => e.Label == "1"));
        Assert.All(examples, e => Assert.Equal(e.Label == "1" ? "positive" : "negative", e.Output));
        Assert.Equal("Wow... Loved this place.", examples[0].Input);
    }

    [Fact]
    public async Task File_format_follows_the_extension()
    {
        string dir = Directory.CreateTempSubdirectory("fewshot-").FullName;
        try
        {
            string jsonl = Path.Combine(dir, "a.jsonl");
            await File.WriteAllTextAsync(jsonl, "{\"input\": \"x\", \"output\": \"y\"}\n");
            string tsv = Path.Combine(dir, "a.tsv");
            await File.WriteAllTextAsync(tsv, "input\toutput\tlabel\nx \"quoted\t y\tz\n");
            Assert.Equal("y", (await FewShotExampleLoader.LoadFileAsync(jsonl))[0].Output);
            var fromTsv = await FewShotExampleLoader.LoadFileAsync(tsv);
            Assert.Equal(("x \"quoted", "z"), (fromTsv[0].Input, fromTsv[0].Label));
            // Argument problems are thrown before any I/O starts, synchronously.
            var unsupported = Assert.Throws<NotSupportedException>(() => { _ = FewShotExampleLoader.LoadFileAsync(Path.Combine(dir, "a.xml")); });
            Assert.Contains(".jsonl", unsupported.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
