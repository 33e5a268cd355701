using System.Text.Json;
using LlmKit.Chat.Templates;
using LlmKit.Chat.Tools;

namespace LlmKit.Tests.Chat.Tools;

/// <summary>
/// Each family's parser on output in the exact shape the family's models write (from the published chat templates and
/// model cards: Qwen 2.5 / Hermes 2 Pro, Llama 3.1, Mistral-7B-Instruct-v0.3, Phi-4-mini), plus prose that merely
/// mentions a marker.
/// </summary>
public class ToolCallParserTests
{
    public static TheoryData<string> FormatNames => ["hermes", "llama3-json", "mistral", "phi4", "generic"];

    [Fact]
    public void Hermes_reads_one_call_and_generates_an_id()
    {
        var parsed = ToolCallFormats.Hermes.Parse("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}\n</tool_call>");

        var call = Assert.Single(parsed.Calls);
        Assert.Equal("get_weather", call.Name);
        AssertJson("{\"city\":\"Paris\",\"unit\":\"celsius\"}", call.ArgumentsJson);
        Assert.StartsWith("call_", call.Id, StringComparison.Ordinal);
        Assert.Equal("", parsed.Text);
    }

    [Fact]
    public void Hermes_reads_parallel_calls_and_the_text_before_them()
    {
        const string output = "Let me check both.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>\n" +
            "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>";

        var parsed = ToolCallFormats.Hermes.Parse(output);

        Assert.Equal(["get_weather", "get_time"], parsed.Calls.Select(c => c.Name));
        Assert.Equal("Let me check both.", parsed.Text);
        Assert.NotEqual(parsed.Calls[0].Id, parsed.Calls[1].Id);
    }

    [Fact]
    public void Hermes_accepts_arguments_written_as_a_json_string_and_a_missing_closing_tag_at_the_end()
    {
        var parsed = ToolCallFormats.Hermes.Parse("<tool_call>\n{\"name\": \"f\", \"arguments\": \"{\\\"x\\\": 1}\"}");

        AssertJson("{\"x\":1}", Assert.Single(parsed.Calls).ArgumentsJson);
    }

    [Theory]
    [InlineData("I will use <tool_call> tags later.")]
    [InlineData("<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": }\n</tool_call>")]
    [InlineData("<tool_call>\n{\"arguments\": {}}\n</tool_call>")]
    [InlineData("<tool_call>\n[1, 2]\n</tool_call>")]
    [InlineData("Once upon a time there was a cat.")]
    public void Hermes_returns_anything_that_is_not_a_well_formed_call_as_text(string output)
    {
        var parsed = ToolCallFormats.Hermes.Parse(output);

        Assert.Empty(parsed.Calls);
        Assert.Equal(output, parsed.Text);
    }

    [Theory]
    [InlineData("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}")]
    [InlineData("<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}<|eom_id|>")]
    [InlineData("  {\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}\n")]
    public void Llama3_reads_the_whole_answer_as_one_call_with_parameters(string output)
    {
        var parsed = ToolCallFormats.Llama3Json.Parse(output);

        var call = Assert.Single(parsed.Calls);
        Assert.Equal("get_weather", call.Name);
        AssertJson("{\"city\":\"Paris\"}", call.ArgumentsJson);
    }

    [Theory]
    [InlineData("The JSON {\"name\": \"x\", \"parameters\": {}} is an example.")]
    [InlineData("{\"name\": \"x\", \"parameters\": {}} and then some prose")]
    [InlineData("{\"temperature\": 21}")]
    public void Llama3_treats_prose_and_other_json_as_text(string output)
    {
        var parsed = ToolCallFormats.Llama3Json.Parse(output);

        Assert.Empty(parsed.Calls);
        Assert.Equal(output, parsed.Text);
    }

    [Fact]
    public void Mistral_reads_a_list_of_parallel_calls_with_nine_character_ids()
    {
        var parsed = ToolCallFormats.Mistral.Parse("[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}, {\"name\": \"get_time\", \"arguments\": {\"city\": \"Oslo\"}}]</s>");

        Assert.Equal(["get_weather", "get_time"], parsed.Calls.Select(c => c.Name));
        Assert.All(parsed.Calls, c => Assert.Matches("^[A-Za-z0-9]{9}$", c.Id));
        Assert.Equal("", parsed.Text);
    }

    [Fact]
    public void Mistral_keeps_an_id_the_model_wrote_and_normalizes_foreign_ids_deterministically()
    {
        var parsed = ToolCallFormats.Mistral.Parse("[TOOL_CALLS] [{\"name\": \"f\", \"arguments\": {}, \"id\": \"abcDEF123\"}]");

        Assert.Equal("abcDEF123", Assert.Single(parsed.Calls).Id);
        Assert.Equal("abcDEF123", MistralToolCallFormat.NormalizeId("abcDEF123"));
        string normalized = MistralToolCallFormat.NormalizeId("call_1234567890abcdef");
        Assert.Matches("^[A-Za-z0-9]{9}$", normalized);
        Assert.Equal(normalized, MistralToolCallFormat.NormalizeId("call_1234567890abcdef"));
    }

    [Theory]
    [InlineData("<|tool_call|>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}]<|/tool_call|>")]
    [InlineData("<|tool_call|>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}<|/tool_call|>")]
    [InlineData("functools[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}]")]
    public void Phi4_reads_the_tool_call_list_and_vllms_functools_variant(string output)
    {
        var parsed = ToolCallFormats.Phi4.Parse(output);

        var call = Assert.Single(parsed.Calls);
        Assert.Equal("get_weather", call.Name);
        AssertJson("{\"city\":\"Paris\"}", call.ArgumentsJson);
    }

    [Theory]
    [MemberData(nameof(FormatNames))]
    public void What_a_format_writes_it_parses_back(string name)
    {
        var format = ByName(name);
        ChatTemplateToolCall[] calls = format.AllowsParallelCalls
            ? [new("id1", "get_weather", "{\"city\":\"Zürich\",\"days\":[1,2]}"), new("id2", "get_time", "{}")]
            : [new("id1", "get_weather", "{\"city\":\"Zürich\",\"days\":[1,2]}")];

        var parsed = format.Parse(format.FormatCalls(calls));

        Assert.Equal(calls.Select(c => c.Name), parsed.Calls.Select(c => c.Name));
        for (int i = 0; i < calls.Length; i++)
        {
            AssertJson(calls[i].ArgumentsJson, parsed.Calls[i].ArgumentsJson);
        }

        Assert.Equal("", parsed.Text);
    }

    [Theory]
    [MemberData(nameof(FormatNames))]
    public void Streaming_in_small_pieces_releases_the_text_and_finds_the_same_calls(string name)
    {
        var format = ByName(name);
        string calls = format.FormatCalls([new("id1", "get_weather", "{\"city\":\"Paris\"}")]);
        string output = format is Llama3JsonToolCallFormat ? calls : "Sure <b>now</b>: " + calls;
        var expected = format.Parse(output);

        foreach (int piece in new[] { 1, 2, 3, 7 })
        {
            var splitter = new ToolCallStreamSplitter(format);
            string released = "";
            for (int i = 0; i < output.Length; i += piece)
            {
                released += splitter.Push(output.Substring(i, Math.Min(piece, output.Length - i)));
            }

            var rest = splitter.Finish();
            Assert.Equal(expected.Calls.Select(c => (c.Name, c.ArgumentsJson)), rest.Calls.Select(c => (c.Name, c.ArgumentsJson)));
            Assert.Equal(expected.Text, (released + rest.Text).Trim());
        }
    }

    [Fact]
    public void Streaming_plain_text_releases_everything_by_the_end()
    {
        const string output = "a < b and <tool is not a call";
        var splitter = new ToolCallStreamSplitter(ToolCallFormats.Hermes);
        string released = string.Concat(output.Select(c => splitter.Push(c.ToString())));

        var rest = splitter.Finish();

        Assert.Empty(rest.Calls);
        Assert.Equal(output, released + rest.Text);
        Assert.Equal("a < b and <tool is not a call", released); // nothing held back once the tail cannot grow into the marker
    }

    private static ToolCallFormat ByName(string name) => name switch
    {
        "hermes" => ToolCallFormats.Hermes,
        "llama3-json" => ToolCallFormats.Llama3Json,
        "mistral" => ToolCallFormats.Mistral,
        "phi4" => ToolCallFormats.Phi4,
        _ => ToolCallFormats.Generic,
    };

    private static void AssertJson(string expected, string actual) =>
        Assert.True(JsonElement.DeepEquals(JsonDocument.Parse(expected).RootElement, JsonDocument.Parse(actual).RootElement), $"expected {expected}, got {actual}");
}
