using System.Text.Json;
using LlmKit.Chat.Templates;
using LlmKit.Testing;

namespace LlmKit.Tests.Chat.Jinja;

/// <summary>
/// Real chat templates (Llama 3.1, Qwen 2.5, Qwen 3, Mistral 7B v0.3, Phi-3.5, Phi-4, Gemma 2, Hermes 3 tool_use, and
/// Hugging Face's list form) rendered by
/// <see cref="JinjaChatTemplate"/> against the renderings @huggingface/transformers' apply_chat_template produced for the
/// same conversations (Data/ChatTemplates; README.md there says how). Equality is byte for byte; a template that
/// raises must raise here with its own message.
/// </summary>
public class ReferenceRenderingTests
{
    private static readonly string DataFolder = Path.Combine(SharedFixtures.RepositoryRoot, "tests", "LlmKit.Tests", "Data", "ChatTemplates");

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var template in Manifest().RootElement.GetProperty("templates").EnumerateArray())
        {
            string name = template.GetProperty("name").GetString()!;
            foreach (var rendering in Expected(name).RootElement.GetProperty("renderings").EnumerateObject())
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
        var manifestEntry = Manifest().RootElement.GetProperty("templates").EnumerateArray().Single(t => t.GetProperty("name").GetString() == templateName);
        // A single template file, or Hugging Face's list form (named_files: default and tool_use).
        bool listForm = manifestEntry.TryGetProperty("named_files", out var named);
        var template = new JinjaChatTemplate(
            ReadText(listForm ? named.GetProperty("default") : manifestEntry.GetProperty("file")),
            new JinjaChatTemplateOptions
            {
                SpecialTokens = manifestEntry.GetProperty("special_tokens").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!),
                ToolUseTemplate = listForm ? ReadText(named.GetProperty("tool_use")) : null,
            });

        using var conversations = JsonDocument.Parse(File.ReadAllText(Path.Combine(DataFolder, "conversations.json")));
        var conversation = conversations.RootElement.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == caseName);
        var messages = conversation.GetProperty("messages").EnumerateArray().Select(ToMessage).ToList();
        var options = new ChatTemplateRenderOptions
        {
            AddGenerationPrompt = conversation.GetProperty("add_generation_prompt").GetBoolean(),
            Tools = conversation.TryGetProperty("tools", out var toolSet)
                ? conversations.RootElement.GetProperty("tools").GetProperty(toolSet.GetString()!).EnumerateArray().Select(ToTool).ToList()
                : null,
        };

        var expected = Expected(templateName).RootElement.GetProperty("renderings").GetProperty(caseName);
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
        foreach (var template in Manifest().RootElement.GetProperty("templates").EnumerateArray()
                     .Where(t => t.GetProperty("name").GetString() != "hermes-3-llama-3.1-8b-tool_use")) // a tool_use template: it needs tools
        {
            var renderings = Expected(template.GetProperty("name").GetString()!).RootElement.GetProperty("renderings");
            Assert.All(common, name => Assert.True(renderings.TryGetProperty(name, out _), $"{template} lacks {name}"));
        }
    }

    private static ChatTemplateMessage ToMessage(JsonElement m)
    {
        var role = m.GetProperty("role").GetString() switch
        {
            "system" => ChatTemplateRole.System,
            "user" => ChatTemplateRole.User,
            "assistant" => ChatTemplateRole.Assistant,
            "tool" => ChatTemplateRole.Tool,
            var other => throw new InvalidDataException($"unknown role {other}"),
        };
        return new ChatTemplateMessage(role, m.GetProperty("content").GetString()!)
        {
            ToolCalls = m.TryGetProperty("tool_calls", out var calls)
                ? calls.EnumerateArray().Select(c => new ChatTemplateToolCall(c.GetProperty("id").GetString()!, c.GetProperty("name").GetString()!, c.GetProperty("arguments").GetRawText())).ToList()
                : null,
            ToolCallId = m.TryGetProperty("tool_call_id", out var id) ? id.GetString() : null,
            ToolName = m.TryGetProperty("name", out var name) ? name.GetString() : null,
        };
    }

    private static ChatTemplateTool ToTool(JsonElement t) =>
        new(t.GetProperty("name").GetString()!, t.GetProperty("description").GetString(), t.GetProperty("parameters").GetRawText());

    private static string ReadText(JsonElement relativePath) => File.ReadAllText(Path.Combine(DataFolder, relativePath.GetString()!));

    private static JsonDocument Manifest() => Read("manifest.json");

    private static JsonDocument Expected(string templateName) => Read(Path.Combine("expected", templateName + ".json"));

    private static JsonDocument Read(string relativePath)
    {
        string path = Path.Combine(DataFolder, relativePath);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Reference data '{relativePath}' is missing from {DataFolder}; see its README.md.", path);
        }

        return JsonDocument.Parse(File.ReadAllText(path));
    }
}
