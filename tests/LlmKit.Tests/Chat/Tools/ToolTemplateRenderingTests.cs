using System.Text.Json;
using LlmKit.Chat;
using LlmKit.Chat.Templates;
using LlmKit.Chat.Tools;
using Microsoft.Extensions.AI;

namespace LlmKit.Tests.Chat.Tools;

/// <summary>
/// Tool definitions, calls and results in the built-in templates. Expected strings are rendered by hand from the Jinja
/// quoted in each comment (Hugging Face's <c>tojson</c> is Python's <c>json.dumps</c>: ", " and ": " separators).
/// </summary>
public class ToolTemplateRenderingTests
{
    private static readonly ChatTemplateTool Weather = new(
        "get_weather", "Get the weather.", "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}");

    private static readonly ChatTemplateMessage Ask = new(ChatTemplateRole.User, "Weather in Paris?");

    private static readonly ChatTemplateMessage Call = new(ChatTemplateRole.Assistant, "")
    {
        ToolCalls = [new ChatTemplateToolCall("call00001", "get_weather", "{\"city\":\"Paris\"}")],
    };

    private static readonly ChatTemplateMessage Result = new(ChatTemplateRole.Tool, "sunny") { ToolCallId = "call00001", ToolName = "get_weather" };

    private static ChatTemplateRenderOptions WithWeather => new() { Tools = [Weather] };

    [Fact]
    public void Phi3_renders_Phi_4_minis_tool_block_in_the_system_message_and_the_call_list()
    {
        // microsoft/Phi-4-mini-instruct: {% if message['role'] == 'system' and 'tools' in message and message['tools'] is not none %}
        // {{ '<|' + message['role'] + '|>' + message['content'] + '<|tool|>' + message['tools'] + '<|/tool|>' + '<|end|>' }}
        // ... else {{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }} ... {{ '<|assistant|>' }}
        // kept in Phi-3's '<|role|>\n' framing; the model writes calls as <|tool_call|>[...]<|/tool_call|>.
        var prompt = new Phi3ChatTemplate().Render([new(ChatTemplateRole.System, "Be brief."), Ask, Call, Result], WithWeather);

        Assert.Equal(
            "<|system|>\nBe brief.<|tool|>[{\"name\": \"get_weather\", \"description\": \"Get the weather.\", \"parameters\": {\"type\": \"object\", " +
            "\"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}]<|/tool|><|end|>\n" +
            "<|user|>\nWeather in Paris?<|end|>\n" +
            "<|assistant|>\n<|tool_call|>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}]<|/tool_call|><|end|>\n" +
            "<|tool|>\nsunny<|end|>\n<|assistant|>\n",
            prompt.Text);
    }

    [Fact]
    public void Plain_text_renders_the_generic_form()
    {
        var prompt = new PlainTextTemplate().Render([Ask, Call, Result], WithWeather);

        Assert.Equal(
            "Tools:\n{\"name\":\"get_weather\",\"description\":\"Get the weather.\",\"parameters\":{\"type\":\"object\",\"properties\":" +
            "{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}\n" +
            "To call a tool, write <tool_call>\n{\"name\": ..., \"arguments\": {...}}\n</tool_call>\n\n" +
            "Weather in Paris?\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n" +
            "<tool_response>\nsunny\n</tool_response>",
            prompt.Text);
    }

    [Fact]
    public void ChatML_renders_Qwen_2_5s_tool_system_block_calls_and_grouped_results()
    {
        // Qwen/Qwen2.5-7B-Instruct: system content + "\n\n# Tools\n\nYou may call one or more functions ... <tools>" + ("\n" + tool | tojson)*
        // + "\n</tools>\n\nFor each function call, ...</tool_call><|im_end|>\n"; an assistant with tool_calls: '<|im_start|>assistant' +
        // ('\n<tool_call>\n{"name": "' + name + '", "arguments": ' + arguments | tojson + '}\n</tool_call>')*  + '<|im_end|>\n';
        // consecutive tool messages share one '<|im_start|>user' turn of '\n<tool_response>\n' + content + '\n</tool_response>'.
        var second = Result with { Content = "14:05", ToolCallId = "call00002" };
        var prompt = new ChatMLTemplate().Render([new(ChatTemplateRole.System, "Be brief."), Ask, Call, Result, second], WithWeather);

        Assert.Equal(
            "<|im_start|>system\nBe brief.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n" +
            "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n" +
            "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the weather.\", \"parameters\": {\"type\": \"object\", " +
            "\"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}}\n</tools>\n\n" +
            "For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n" +
            "<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" +
            "<|im_start|>user\nWeather in Paris?<|im_end|>\n" +
            "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>\n" +
            "<|im_start|>user\n<tool_response>\nsunny\n</tool_response>\n<tool_response>\n14:05\n</tool_response><|im_end|>\n<|im_start|>assistant\n",
            prompt.Text);
    }

    [Fact]
    public void Without_tools_the_tool_aware_render_equals_the_plain_render_and_can_omit_the_generation_prompt()
    {
        ChatTemplateMessage[] messages = [new(ChatTemplateRole.System, "Be brief."), Ask];
        foreach (IChatTemplate template in new IChatTemplate[] { new ChatMLTemplate(), new Llama3ChatTemplate(), new Phi3ChatTemplate(), new MistralChatTemplate(), new PlainTextTemplate() })
        {
            Assert.Equal(template.Render(messages), template.Render(messages, new ChatTemplateRenderOptions()));
        }

        string open = new Llama3ChatTemplate().Render(messages).Text;
        Assert.Equal(open[..^"<|start_header_id|>assistant<|end_header_id|>\n\n".Length],
            ((IChatTemplate)new Llama3ChatTemplate()).Render(messages, new ChatTemplateRenderOptions { AddGenerationPrompt = false }).Text);
        Assert.EndsWith("<|im_end|>\n", ((IChatTemplate)new ChatMLTemplate()).Render(messages, new ChatTemplateRenderOptions { AddGenerationPrompt = false }).Text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(ChatTemplateKind.Llama2)]
    [InlineData(ChatTemplateKind.Gemma)]
    [InlineData(ChatTemplateKind.Zephyr)]
    public void Families_without_a_published_tool_format_refuse_tools(ChatTemplateKind kind)
    {
        var template = ChatTemplates.Create(kind);

        var error = Assert.Throws<NotSupportedException>(() => template.Render([Ask], WithWeather));
        Assert.Contains(kind.ToString(), error.Message, StringComparison.Ordinal);
        Assert.Null(ToolCallFormats.For(kind));
    }

    [Fact]
    public void Llama3_refuses_parallel_calls_in_the_history_as_Metas_template_does()
    {
        var parallel = Call with { ToolCalls = [.. Call.ToolCalls!, new ChatTemplateToolCall("call00002", "get_weather", "{\"city\":\"Oslo\"}")] };

        var error = Assert.Throws<ArgumentException>(() => new Llama3ChatTemplate().Render([Ask, parallel], WithWeather));
        Assert.Contains("single tool call", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Mistral_gives_foreign_call_ids_the_same_nine_characters_in_the_call_and_its_result()
    {
        var call = Call with { ToolCalls = [new ChatTemplateToolCall("call_0123456789abcdef", "get_weather", "{\"city\":\"Paris\"}")] };
        var result = Result with { ToolCallId = "call_0123456789abcdef" };

        string text = new MistralChatTemplate().Render([Ask, call, result], WithWeather).Text;

        string id = MistralToolCallFormat.NormalizeId("call_0123456789abcdef");
        Assert.Contains("[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}, \"id\": \"" + id + "\"}]</s>", text, StringComparison.Ordinal);
        Assert.Contains("[TOOL_RESULTS] {\"content\": sunny, \"call_id\": \"" + id + "\"}[/TOOL_RESULTS]", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Meai_calls_and_results_become_template_calls_and_tool_messages()
    {
        ChatMessage[] history =
        [
            new(ChatRole.User, "Weather in Paris?"),
            new(ChatRole.Assistant, [new FunctionCallContent("c1", "get_weather", new Dictionary<string, object?> { ["city"] = "Paris", ["days"] = 2 })]),
            new(ChatRole.Tool, [new FunctionResultContent("c1", new { sky = "clear" })]),
        ];

        var messages = ChatOptionsMapper.ToTemplateMessages(history);

        var call = Assert.Single(messages[1].ToolCalls!);
        Assert.Equal(("c1", "get_weather"), (call.Id, call.Name));
        Assert.True(JsonElement.DeepEquals(JsonDocument.Parse("{\"city\":\"Paris\",\"days\":2}").RootElement, JsonDocument.Parse(call.ArgumentsJson).RootElement));
        Assert.Equal(ChatTemplateRole.Tool, messages[2].Role);
        Assert.Equal(("c1", "get_weather"), (messages[2].ToolCallId, messages[2].ToolName));
        Assert.Equal("{\"sky\":\"clear\"}", messages[2].Content);
    }
}
