using System.Text.Json.Nodes;
using LlmKit.Chat.Templates;
using LlmKit.Testing;

namespace LlmKit.Oracle.Tests;

/// <summary>
/// LlmKit's <see cref="JinjaChatTemplate"/> beside onnxruntime-genai's <c>Tokenizer.ApplyChatTemplate</c> (its own Jinja
/// engine, in ort-extensions) on the reference templates and conversations of tests/LlmKit.Tests/Data/ChatTemplates.
/// The official tokenizer reads the special tokens from the folder, so each template gets a copy of the tiny gpt2 folder
/// whose tokenizer_config.json declares that model's tokens.
/// </summary>
public class ChatTemplateOracleTests
{
    // Where the official runtime departs from both Hugging Face implementations (Python transformers' semantics, which
    // @huggingface/transformers' recorded renderings follow and LlmKit matches), so it cannot be the judge:
    // - Llama 3.x templates with tools: it rewrites the tool schemas into its own Llama form ("type": "str", no
    //   "type": "function" wrapper) before rendering;
    // - Qwen 3 with reasoning in the history: it keeps <think> blocks of assistant turns before the last user query,
    //   which the template's namespace bookkeeping (ns.last_query_index) strips.
    // And one it cannot render: ApplyChatTemplate takes no extra template variables (enable_thinking).
    private static readonly HashSet<string> OfficialDeviations = new(StringComparer.Ordinal)
    {
        "qwen3-0.6b/thinking_disabled",
        "llama-3.1-8b-instruct/tools_only",
        "llama-3.1-8b-instruct/tool_call_and_result",
        "llama-3.1-8b-instruct/tool_call_result_and_answer",
        "qwen3-0.6b/reasoning_in_history",
    };

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var template in ChatTemplateReferenceData.Templates().Where(t => t.TryGetProperty("file", out _)))
        {
            string name = template.GetProperty("name").GetString()!;
            foreach (var rendering in ChatTemplateReferenceData.Renderings(name).EnumerateObject())
            {
                if (!OfficialDeviations.Contains($"{name}/{rendering.Name}"))
                {
                    data.Add(name, rendering.Name);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Renders_as_the_official_runtime_does(string templateName, string caseName)
    {
        var entry = ChatTemplateReferenceData.Template(templateName);
        string source = ChatTemplateReferenceData.TemplateText(entry.GetProperty("file").GetString()!);
        var conversation = ChatTemplateReferenceData.Case(caseName);
        bool addGenerationPrompt = conversation.GetProperty("add_generation_prompt").GetBoolean();

        using var folder = TempModelFolder.CopyOf(Path.GetDirectoryName(SharedFixtures.File("models/onnxruntime-genai-tests/tiny-random-gpt2-fp32/tokenizer_config.json"))!);
        string configPath = Path.Combine(folder.Path, "tokenizer_config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!;
        foreach (var token in entry.GetProperty("special_tokens").EnumerateObject())
        {
            config[token.Name] = token.Value.GetString();
        }

        File.WriteAllText(configPath, config.ToJsonString());
        using var official = new OfficialRuntime(folder.Path);

        string? officialText = null;
        Exception? officialError = null;
        try
        {
            officialText = official.Tokenizer.ApplyChatTemplate(
                source, ChatTemplateReferenceData.HuggingFaceMessagesJson(conversation), ChatTemplateReferenceData.HuggingFaceToolsJson(conversation), addGenerationPrompt);
        }
        catch (Exception ex)
        {
            officialError = ex;
        }

        var template = ChatTemplateReferenceData.CreateTemplate(entry, conversation);
        var messages = ChatTemplateReferenceData.Messages(conversation);
        var options = ChatTemplateReferenceData.Options(conversation);
        if (officialError is not null)
        {
            // Both refuse the conversation with the template's own raise_exception text.
            var ours = Assert.Throws<ChatTemplateException>(() => template.Render(messages, options));
            string templateMessage = ours.Message[(ours.Message.IndexOf(": ", StringComparison.Ordinal) + 2)..];
            Assert.Contains(templateMessage, officialError.Message, StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal(officialText, template.Render(messages, options).Text);
        }
    }
}
