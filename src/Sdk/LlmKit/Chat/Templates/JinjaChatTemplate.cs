using System.Text.Json;
using System.Text.RegularExpressions;
using LlmKit.Chat.Templates.Jinja;
using LlmKit.Tokenization;

namespace LlmKit.Chat.Templates;

/// <summary>What a <see cref="JinjaChatTemplate"/> passes to its template besides the conversation.</summary>
public sealed record JinjaChatTemplateOptions
{
    /// <summary>Special tokens by variable name (<c>bos_token</c>, <c>eos_token</c>, <c>unk_token</c>, <c>pad_token</c>...), as <c>tokenizer_config.json</c> declares them.</summary>
    public IReadOnlyDictionary<string, string>? SpecialTokens { get; init; }

    /// <summary><c>additional_special_tokens</c>, passed as a list variable of that name.</summary>
    public IReadOnlyList<string>? AdditionalSpecialTokens { get; init; }

    /// <summary>The folder's "tool_use" template (Hugging Face's list form), rendered instead when tools are given; null for none.</summary>
    public string? ToolUseTemplate { get; init; }

    /// <summary>The clock behind the template's <c>strftime_now</c>; default <see cref="TimeProvider.System"/> (local time, as Hugging Face uses).</summary>
    public TimeProvider? Clock { get; init; }

    /// <summary>
    /// Further template variables, as the keyword arguments of Hugging Face's <c>apply_chat_template</c> (e.g.
    /// <c>enable_thinking = false</c> for Qwen 3, <c>date_string</c> for Llama 3.x). Values: string, bool, int, long,
    /// double or null. They cannot replace <c>messages</c>, <c>tools</c> or <c>add_generation_prompt</c>.
    /// </summary>
    public IReadOnlyDictionary<string, object?>? Variables { get; init; }
}

/// <summary>
/// A model folder's own Hugging Face chat template (<c>chat_template.jinja</c> or <c>tokenizer_config.json</c>'s
/// <c>chat_template</c>), rendered by LlmKit's Jinja2-subset interpreter the way <c>apply_chat_template</c> renders it:
/// variables <c>messages</c>, <c>tools</c>, <c>add_generation_prompt</c> and the special tokens; environment with
/// trim_blocks and lstrip_blocks; <c>raise_exception</c> and <c>strftime_now</c> globals.
/// </summary>
/// <remarks>
/// The template is untrusted input: it sees only plain values (no .NET objects) and each rendering is bounded in output
/// size, loop iterations and macro nesting. Parsing happens once in the constructor. Instances are immutable and thread-safe.
/// Supported: <c>if/elif/else</c>, <c>for</c> (with <c>loop.*</c>, inline <c>if</c>, <c>else</c>, <c>break/continue</c>),
/// <c>set</c> (with <c>namespace()</c>), <c>macro</c>, Jinja's operators, tests and the filters and str/dict methods
/// chat templates use; see docs/chat.md.
/// </remarks>
public sealed partial class JinjaChatTemplate : IChatTemplate
{
    private readonly JinjaTemplate _template;
    private readonly JinjaTemplate? _toolUse;
    private readonly JinjaChatTemplateOptions _options;
    private readonly string? _bosToken;

    /// <summary>Parses <paramref name="template"/> (and <see cref="JinjaChatTemplateOptions.ToolUseTemplate"/>).</summary>
    /// <param name="template">The Jinja source.</param>
    /// <param name="options">Special tokens, the tool-use variant and the clock; null for none.</param>
    /// <exception cref="ArgumentNullException"><paramref name="template"/> is null.</exception>
    /// <exception cref="ChatTemplateException">The template is not valid in the supported subset; the message names the line.</exception>
    public JinjaChatTemplate(string template, JinjaChatTemplateOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(template);
        _options = options ?? new JinjaChatTemplateOptions();
        _template = JinjaTemplate.Parse(template);
        _toolUse = _options.ToolUseTemplate is null ? null : JinjaTemplate.Parse(_options.ToolUseTemplate);
        _bosToken = _options.SpecialTokens is { } tokens && tokens.TryGetValue("bos_token", out var bos) && bos.Length > 0 ? bos : null;
        foreach (var (name, value) in _options.Variables ?? new Dictionary<string, object?>())
        {
            if (name is "messages" or "tools" or "add_generation_prompt" or "documents")
            {
                throw new ArgumentException($"JinjaChatTemplateOptions.Variables cannot set '{name}': it comes from the conversation and the render options.", nameof(options));
            }

            if (value is not (null or string or bool or int or long or double))
            {
                throw new ArgumentException($"JinjaChatTemplateOptions.Variables['{name}'] is a {value.GetType().Name}; use a string, bool, int, long, double or null.", nameof(options));
            }
        }
    }

    /// <summary>The folder's template: its <c>chat_template</c> (or <c>chat_template.jinja</c>), "tool_use" variant and special tokens.</summary>
    /// <param name="config">The folder's tokenizer configuration.</param>
    /// <param name="clock">The clock behind <c>strftime_now</c>; null for the system clock.</param>
    /// <exception cref="ChatTemplateException">The folder has no chat template, or it is not valid in the supported subset.</exception>
    public static JinjaChatTemplate FromTokenizerConfig(TokenizerConfig config, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (string.IsNullOrWhiteSpace(config.ChatTemplate))
        {
            throw new ChatTemplateException($"The model folder has no chat template ({TokenizerConfig.ChatTemplateFileName}, or chat_template in {TokenizerConfig.FileName}).");
        }

        return new JinjaChatTemplate(config.ChatTemplate, new JinjaChatTemplateOptions
        {
            SpecialTokens = config.SpecialTokens,
            AdditionalSpecialTokens = config.AdditionalSpecialTokens,
            ToolUseTemplate = config.NamedChatTemplates.TryGetValue("tool_use", out var toolUse) ? toolUse : null,
            Clock = clock,
        });
    }

    /// <inheritdoc />
    public ChatTemplateKind Kind => ChatTemplateKind.Folder;

    /// <summary>The Jinja source of the default template.</summary>
    public string Source => _template.Source;

    /// <summary>Renders with the generation prompt and no tools.</summary>
    /// <inheritdoc cref="Render(IReadOnlyList{ChatTemplateMessage}, ChatTemplateRenderOptions)"/>
    public ChatPrompt Render(IReadOnlyList<ChatTemplateMessage> messages) => Render(messages, new ChatTemplateRenderOptions());

    /// <summary>Renders the conversation, tools and generation prompt through the folder's template.</summary>
    /// <param name="messages">The conversation; must not be empty.</param>
    /// <param name="options">Tools and the generation-prompt switch.</param>
    /// <returns>The text; <see cref="ChatPrompt.AddBos"/> is false when the template writes the BOS token itself, else null.</returns>
    /// <exception cref="ArgumentException">The conversation is empty, a message is null, or a tool's arguments or schema are not JSON.</exception>
    /// <exception cref="ChatTemplateException">The template raised an error (its message is included), failed, or exceeded a limit.</exception>
    public ChatPrompt Render(IReadOnlyList<ChatTemplateMessage> messages, ChatTemplateRenderOptions options)
    {
        ConversationRules.RequireMessages(messages);
        ArgumentNullException.ThrowIfNull(options);
        bool hasTools = options.Tools is { Count: > 0 };
        var template = hasTools && _toolUse is not null ? _toolUse : _template;
        var context = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["messages"] = messages.Select((m, i) => (object?)MessageValue(m, i)).ToList(),
            ["tools"] = hasTools ? options.Tools!.Select(ToolValue).ToList() : null,
            ["documents"] = null,
            ["add_generation_prompt"] = options.AddGenerationPrompt,
        };
        foreach (var (name, token) in _options.SpecialTokens ?? new Dictionary<string, string>())
        {
            context[name] = token;
        }

        if (_options.AdditionalSpecialTokens is { Count: > 0 } additional)
        {
            context["additional_special_tokens"] = additional.Cast<object?>().ToList();
        }

        foreach (var (name, value) in _options.Variables ?? new Dictionary<string, object?>())
        {
            context[name] = value is int i ? (long)i : value; // the template's integers are long
        }

        string text;
        try
        {
            text = template.Render(context, JinjaLimits.Default, _options.Clock);
        }
        catch (InsufficientExecutionStackException ex)
        {
            throw new ChatTemplateException("The chat template nests too deeply to render.", ex);
        }
        catch (Exception ex) when (ex is not ChatTemplateException and not OperationCanceledException and not OutOfMemoryException)
        {
            // A value shape the interpreter did not expect: still the template's failure, reported as such.
            throw new ChatTemplateException($"The chat template failed: {ex.Message}", ex);
        }

        bool writesBos = _bosToken is not null && (text.StartsWith(_bosToken, StringComparison.Ordinal) || BosTokenVariable().IsMatch(template.Source));
        return new ChatPrompt(text, writesBos ? false : null);
    }

    // The shapes apply_chat_template documents: {role, content, tool_calls: [{id, type, function: {name, arguments}}], tool_call_id, name}.
    private static JinjaDict MessageValue(ChatTemplateMessage message, int index)
    {
        var dict = new JinjaDict
        {
            ["role"] = ConversationRules.RoleName(message.Role),
            ["content"] = message.Content,
        };
        if (message.ToolCalls is { Count: > 0 } calls)
        {
            dict["tool_calls"] = calls.Select(call =>
            {
                ArgumentNullException.ThrowIfNull(call);
                var function = new JinjaDict
                {
                    ["name"] = call.Name,
                    ["arguments"] = ParseJson(call.ArgumentsJson, $"message {index}'s tool call '{call.Name}' arguments"),
                };
                return (object?)new JinjaDict { ["id"] = call.Id, ["type"] = "function", ["function"] = function };
            }).ToList();
        }

        if (message.ToolCallId is not null)
        {
            dict["tool_call_id"] = message.ToolCallId;
        }

        if (message.ToolName is not null)
        {
            dict["name"] = message.ToolName;
        }

        return dict;
    }

    private static object? ToolValue(ChatTemplateTool tool)
    {
        ArgumentNullException.ThrowIfNull(tool);
        var function = new JinjaDict { ["name"] = tool.Name };
        if (tool.Description is not null)
        {
            function["description"] = tool.Description;
        }

        function["parameters"] = ParseJson(tool.ParametersSchemaJson, $"tool '{tool.Name}' parameters schema");
        return new JinjaDict { ["type"] = "function", ["function"] = function };
    }

    private static object? ParseJson(string json, string what)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return Py.FromJson(document.RootElement);
        }
        catch (Exception ex) when (ex is JsonException or ArgumentNullException)
        {
            throw new ArgumentException($"The {what} is not valid JSON: {ex.Message}", nameof(json), ex);
        }
    }

    [GeneratedRegex(@"\bbos_token\b", RegexOptions.CultureInvariant)]
    private static partial Regex BosTokenVariable();
}
