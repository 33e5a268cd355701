using LlmKit.Chat.Templates;
using LlmKit.Testing;

namespace LlmKit.Tests.Chat.Tools;

/// <summary>
/// The built-in templates' tool rendering (the fallback when a folder's own template cannot be used) against the
/// renderings @huggingface/transformers' apply_chat_template made of the families' real templates (Data/ChatTemplates;
/// README.md there says how): Qwen 2.5 by the ChatML template, Llama 3.1 by the Llama 3 template, Mistral 7B v0.3 by
/// the Mistral template, byte for byte, for tool lists, calls, results and parallel calls.
/// </summary>
public class BuiltInToolRenderingReferenceTests
{
    /// <summary>Qwen 2.5's template writes this system text when a conversation has none; LlmKit's ChatML does not, so the case supplies it.</summary>
    private const string QwenDefaultSystem = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (string template in new[] { "qwen2.5-instruct", "llama-3.1-8b-instruct", "mistral-7b-instruct-v0.3" })
        {
            foreach (var rendering in ChatTemplateReferenceData.Renderings(template).EnumerateObject())
            {
                var conversation = ChatTemplateReferenceData.Case(rendering.Name);
                bool usesTools = conversation.TryGetProperty("tools", out var tools) && tools.ValueKind == System.Text.Json.JsonValueKind.String;
                if (usesTools && rendering.Value.TryGetProperty("output", out _))
                {
                    data.Add(template, rendering.Name);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Built_in_tool_rendering_matches_the_reference(string templateName, string caseName)
    {
        var conversation = ChatTemplateReferenceData.Case(caseName);
        var messages = ChatTemplateReferenceData.Messages(conversation);
        var options = ChatTemplateReferenceData.Options(conversation);
        IChatTemplate template = templateName switch
        {
            "qwen2.5-instruct" => new ChatMLTemplate(),
            "llama-3.1-8b-instruct" => new Llama3ChatTemplate(),
            _ => new MistralChatTemplate(),
        };
        if (template is ChatMLTemplate && messages[0].Role != ChatTemplateRole.System)
        {
            messages.Insert(0, new ChatTemplateMessage(ChatTemplateRole.System, QwenDefaultSystem));
        }

        string expected = ChatTemplateReferenceData.Renderings(templateName).GetProperty(caseName).GetProperty("output").GetString()!;
        Assert.Equal(expected, template.Render(messages, options).Text);
    }

    [Fact]
    public void Every_tool_case_of_the_three_families_is_covered()
    {
        // tools_only, a call with its result, a call, result and answer, and (Qwen, Mistral) parallel calls.
        Assert.Equal(11, Cases().Count());
    }
}
