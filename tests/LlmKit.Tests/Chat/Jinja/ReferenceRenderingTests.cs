using LlmKit.Chat.Templates;
using LlmKit.Testing;

namespace LlmKit.Tests.Chat.Jinja;

/// <summary>
/// Real chat templates (Llama 3.1, Qwen 2.5, Qwen 3, Mistral 7B v0.3, Phi-3.5, Phi-4, Gemma 2, Hermes 3 tool_use, and
/// Hugging Face's list form) rendered by <see cref="JinjaChatTemplate"/> against the renderings
/// @huggingface/transformers' apply_chat_template produced for the same conversations (Data/ChatTemplates; README.md
/// there says how). Equality is byte for byte; a template that raises must raise here with its own message.
/// </summary>
public class ReferenceRenderingTests
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var template in ChatTemplateReferenceData.Templates())
        {
            string name = template.GetProperty("name").GetString()!;
            foreach (var rendering in ChatTemplateReferenceData.Renderings(name).EnumerateObject())
            {
                data.Add(name, rendering.Name);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Renders_like_the_reference_implementation(string templateName, string caseName)
    {
        var conversation = ChatTemplateReferenceData.Case(caseName);
        var template = ChatTemplateReferenceData.CreateTemplate(ChatTemplateReferenceData.Template(templateName), conversation);
        var messages = ChatTemplateReferenceData.Messages(conversation);
        var options = ChatTemplateReferenceData.Options(conversation);

        var expected = ChatTemplateReferenceData.Renderings(templateName).GetProperty(caseName);
        if (expected.TryGetProperty("error", out var error))
        {
            var ex = Assert.Throws<ChatTemplateException>(() => template.Render(messages, options));
            Assert.Contains(error.GetString()!, ex.Message, StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal(expected.GetProperty("output").GetString(), template.Render(messages, options).Text);
        }
    }

    [Fact]
    public void Every_template_has_reference_renderings_for_the_common_conversations()
    {
        string[] common = ["system_user", "multi_turn", "no_system", "no_generation_prompt", "non_ascii"];
        foreach (var template in ChatTemplateReferenceData.Templates()
                     .Where(t => t.GetProperty("name").GetString() != "hermes-3-llama-3.1-8b-tool_use")) // a tool_use template: it needs tools
        {
            string name = template.GetProperty("name").GetString()!;
            var renderings = ChatTemplateReferenceData.Renderings(name);
            Assert.All(common, c => Assert.True(renderings.TryGetProperty(c, out _), $"{name} lacks {c}"));
        }
    }
}
