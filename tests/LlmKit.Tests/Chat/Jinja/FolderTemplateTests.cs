using System.Text.Json.Nodes;
using LlmKit.Chat;
using LlmKit.Chat.Templates;
using LlmKit.Models;
using LlmKit.Testing;
using LlmKit.Tokenization;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace LlmKit.Tests.Chat.Jinja;

/// <summary>
/// A model folder's own chat template (a copy of the converted stories260K folder with a template written into it):
/// picked by Auto, read from tokenizer_config.json or chat_template.jinja, with the built-ins as fallbacks.
/// </summary>
public class FolderTemplateTests
{
    // A Llama 2 style template that writes bos_token itself and uses a macro, a filter and a string method.
    private const string LlamaStyle =
        "{% macro turn(text) %}[INST] {{ text | trim }} [/INST]{% endmacro %}" +
        "{% for message in messages %}{% if message.role == 'user' %}{{ bos_token + turn(message.content) }}" +
        "{% elif message.role == 'assistant' %}{{ ' ' + message.content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

    private static readonly ChatTemplateMessage Hello = new(ChatTemplateRole.User, "  Hello  ");

    private static TempModelFolder FolderWithTemplate(JsonNode? chatTemplate)
    {
        var folder = TempModelFolder.CopyOf(TestModels.Stories260KFolder);
        string path = Path.Combine(folder.Path, TokenizerConfig.FileName);
        var config = JsonNode.Parse(File.ReadAllText(path))!;
        config["chat_template"] = chatTemplate;
        File.WriteAllText(path, config.ToJsonString());
        return folder;
    }

    [Fact]
    public async Task Auto_renders_the_folders_chat_template_and_the_chat_client_generates_with_it()
    {
        using var folder = FolderWithTemplate(LlamaStyle);
        using var model = OnnxGenAIModel.Load(folder.Path, new OnnxGenAIModelOptions { IntraOpThreads = 1 });

        var template = ChatTemplates.Resolve(model);
        Assert.Equal(ChatTemplateKind.Folder, template.Kind);
        var prompt = template.Render([Hello, new ChatTemplateMessage(ChatTemplateRole.Assistant, " Hi "), Hello]);
        Assert.Equal("<s>[INST] Hello [/INST] Hi </s><s>[INST] Hello [/INST]", prompt.Text);
        Assert.False(prompt.AddBos); // the template wrote bos_token

        // The leading BOS text becomes the BOS id, once.
        int[] ids = ChatPromptEncoder.Encode(model.Tokenizer, prompt);
        Assert.Equal(model.Tokenizer.BosTokenId, ids[0]);
        Assert.NotEqual(model.Tokenizer.BosTokenId, ids[1]);

        var client = new OnnxChatClient(model);
        Assert.Equal(ChatTemplateKind.Folder, client.Template.Kind);
        var response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "Once upon a time")], new ChatOptions { Temperature = 0, MaxOutputTokens = 8 });
        Assert.True(response.Usage?.OutputTokenCount > 0, "the chat client generated nothing through the folder template");
    }

    [Fact]
    public void A_template_that_does_not_write_bos_leaves_the_choice_to_the_folder()
    {
        using var folder = FolderWithTemplate("{% for m in messages %}{{ m.content }}{% endfor %}");
        var template = ChatTemplates.Resolve(TokenizerConfig.Read(folder.Path), "llama");

        var prompt = template.Render([Hello]);
        Assert.Equal("  Hello  ", prompt.Text);
        Assert.Null(prompt.AddBos);
    }

    [Fact]
    public void A_chat_template_jinja_file_wins_over_tokenizer_config()
    {
        using var folder = FolderWithTemplate("{{ 'from tokenizer_config' }}");
        File.WriteAllText(Path.Combine(folder.Path, TokenizerConfig.ChatTemplateFileName), "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}\n");

        var template = ChatTemplates.Resolve(TokenizerConfig.Read(folder.Path), "llama");
        Assert.Equal("<user>  Hello  ", template.Render([Hello]).Text); // trim_blocks removes the newline after endfor
    }

    [Fact]
    public void The_list_form_uses_tool_use_when_tools_are_given_and_default_otherwise()
    {
        using var folder = FolderWithTemplate(new JsonArray(
            new JsonObject { ["name"] = "default", ["template"] = "plain:{{ messages[0].content }}" },
            new JsonObject { ["name"] = "tool_use", ["template"] = "tools:{{ tools | map(attribute='function.name') | join(',') }}" }));
        var template = ChatTemplates.Resolve(TokenizerConfig.Read(folder.Path), "llama");

        Assert.Equal("plain:  Hello  ", template.Render([Hello]).Text);
        var tools = new ChatTemplateRenderOptions { Tools = [new ChatTemplateTool("get_weather", "Weather.", """{"type":"object"}"""), new ChatTemplateTool("get_time", null, "{}")] };
        Assert.Equal("tools:get_weather,get_time", template.Render([Hello], tools).Text);
    }

    [Fact]
    public void A_template_outside_the_subset_falls_back_to_the_built_in_family()
    {
        using var folder = FolderWithTemplate("{% include 'chatml.jinja' %}{{ '<|im_start|>' + message['role'] }}");
        var template = ChatTemplates.Resolve(TokenizerConfig.Read(folder.Path), "qwen2", ChatTemplateKind.Auto, out string? reason);

        Assert.Equal(ChatTemplateKind.ChatML, template.Kind);
        Assert.Contains("include", reason, StringComparison.Ordinal);
        Assert.Contains("ChatML", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void The_chat_client_logs_a_warning_when_it_falls_back_to_a_built_in()
    {
        using var folder = FolderWithTemplate("{% call foo() %}{% endcall %}{{ '<|im_start|>' + message['role'] }}");
        using var model = OnnxGenAIModel.Load(folder.Path, new OnnxGenAIModelOptions { IntraOpThreads = 1 });
        var logger = new CapturingLogger();

        var client = new OnnxChatClient(model, logger: logger);

        Assert.Equal(ChatTemplateKind.ChatML, client.Template.Kind);
        var warning = Assert.Single(logger.Entries, e => e.Level == LogLevel.Warning);
        Assert.Contains("'call' statement is not supported", warning.Message, StringComparison.Ordinal);
        Assert.Contains("built-in ChatML template", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void When_neither_the_folder_template_nor_a_built_in_fits_the_error_says_both()
    {
        using var folder = FolderWithTemplate("{% include 'x.jinja' %}USER: {{ message }}");
        var ex = Assert.Throws<ChatTemplateException>(() => ChatTemplates.Resolve(TokenizerConfig.Read(folder.Path), "falcon"));

        Assert.Contains("outside LlmKit's Jinja subset", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'include'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("matches no built-in template", ex.Message, StringComparison.Ordinal);
        Assert.Contains("LlmKitOptions.ChatTemplate", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Explicit_built_in_kinds_stay_selectable_and_Folder_requires_a_template()
    {
        using var folder = FolderWithTemplate(LlamaStyle);
        var config = TokenizerConfig.Read(folder.Path);
        Assert.Equal(ChatTemplateKind.Llama2, ChatTemplates.Resolve(config, "llama", ChatTemplateKind.Llama2).Kind);
        Assert.Equal(ChatTemplateKind.Folder, ChatTemplates.Resolve(config, "llama", ChatTemplateKind.Folder).Kind);

        var ex = Assert.Throws<ChatTemplateException>(() => ChatTemplates.Resolve(LoadedModels.Stories260K, ChatTemplateKind.Folder));
        Assert.Contains("has no chat template", ex.Message, StringComparison.Ordinal);
        Assert.Equal(ChatTemplateKind.None, ChatTemplates.Resolve(LoadedModels.Stories260K).Kind); // no template: still a base model
    }

    [Fact]
    public void A_template_that_raises_surfaces_its_message()
    {
        using var folder = FolderWithTemplate("{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}ok");
        var template = ChatTemplates.Resolve(TokenizerConfig.Read(folder.Path), "gemma2");

        var ex = Assert.Throws<ChatTemplateException>(() => template.Render([new ChatTemplateMessage(ChatTemplateRole.System, "Be nice."), Hello]));
        Assert.Contains("System role not supported", ex.Message, StringComparison.Ordinal);
    }

    private sealed class CapturingLogger : ILogger<OnnxChatClient>
    {
        public List<(LogLevel Level, string Message)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Add((logLevel, formatter(state, exception)));
    }

    [Fact]
    public void Extra_variables_reach_the_template_but_cannot_replace_the_conversation()
    {
        var template = new JinjaChatTemplate("{{ date_string }}|{{ enable_thinking }}|{{ n + 1 }}", new JinjaChatTemplateOptions
        {
            Variables = new Dictionary<string, object?> { ["date_string"] = "26 Jul 2024", ["enable_thinking"] = false, ["n"] = 41 },
        });
        Assert.Equal("26 Jul 2024|False|42", template.Render([Hello]).Text);

        var reserved = Assert.Throws<ArgumentException>(() => new JinjaChatTemplate("x", new JinjaChatTemplateOptions { Variables = new Dictionary<string, object?> { ["messages"] = "" } }));
        Assert.Contains("'messages'", reserved.Message, StringComparison.Ordinal);
        var unsupported = Assert.Throws<ArgumentException>(() => new JinjaChatTemplate("x", new JinjaChatTemplateOptions { Variables = new Dictionary<string, object?> { ["o"] = new object() } }));
        Assert.Contains("Variables['o']", unsupported.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_oversized_chat_template_file_is_refused_before_reading()
    {
        using var folder = TempModelFolder.CopyOf(TestModels.Stories260KFolder);
        string path = Path.Combine(folder.Path, TokenizerConfig.ChatTemplateFileName);
        using (var stream = File.Create(path))
        {
            stream.SetLength(TokenizerConfig.MaxChatTemplateFileBytes + 1);
        }

        var ex = Assert.Throws<ModelFolderException>(() => TokenizerConfig.Read(folder.Path));
        Assert.Contains(TokenizerConfig.ChatTemplateFileName, ex.Message, StringComparison.Ordinal);
    }
}
