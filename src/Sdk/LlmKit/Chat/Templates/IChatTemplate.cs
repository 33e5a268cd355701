namespace LlmKit.Chat.Templates;

/// <summary>
/// Turns a conversation into the prompt text one model family was trained on. One implementation per family;
/// each follows that family's published Hugging Face <c>chat_template</c> and always ends with the generation
/// prompt (the opening of the assistant's turn).
/// </summary>
/// <remarks>Implementations are stateless and thread-safe.</remarks>
public interface IChatTemplate
{
    /// <summary>The family this template renders.</summary>
    ChatTemplateKind Kind { get; }

    /// <summary>Renders <paramref name="messages"/> (oldest first) into a prompt ending where the assistant's answer begins.</summary>
    /// <param name="messages">The conversation; must not be empty.</param>
    /// <exception cref="ArgumentException">The conversation is empty or its roles break the family's rules (e.g. not alternating).</exception>
    ChatPrompt Render(IReadOnlyList<ChatTemplateMessage> messages);

    /// <summary>
    /// Renders <paramref name="messages"/> with tool definitions, tool calls and tool results, and with or without the
    /// generation prompt. Templates that cannot render tools throw <see cref="NotSupportedException"/> when any is present.
    /// </summary>
    /// <param name="messages">The conversation; must not be empty.</param>
    /// <param name="options">Tools and the generation-prompt switch.</param>
    /// <exception cref="ArgumentException">The conversation is empty or its roles break the family's rules.</exception>
    /// <exception cref="NotSupportedException">The template cannot render tools, tool calls or tool messages, or cannot omit the generation prompt.</exception>
    ChatPrompt Render(IReadOnlyList<ChatTemplateMessage> messages, ChatTemplateRenderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(messages);
        if (options.Tools is { Count: > 0 } || messages.Any(m => m?.Role == ChatTemplateRole.Tool || m?.ToolCalls is { Count: > 0 }))
        {
            throw new NotSupportedException($"The {Kind} chat template cannot render tools, tool calls or tool results.");
        }

        if (!options.AddGenerationPrompt)
        {
            throw new NotSupportedException($"The {Kind} chat template always ends with the generation prompt.");
        }

        return Render(messages);
    }
}

/// <summary>What a template renders besides the messages.</summary>
public sealed record ChatTemplateRenderOptions
{
    /// <summary>Tools the model may call, in the order the template lists them; null or empty for none.</summary>
    public IReadOnlyList<ChatTemplateTool>? Tools { get; init; }

    /// <summary>End with the opening of the assistant's turn (Hugging Face's <c>add_generation_prompt</c>); default true.</summary>
    public bool AddGenerationPrompt { get; init; } = true;
}

/// <summary>A tool (function) the model may call.</summary>
/// <param name="Name">The function name.</param>
/// <param name="Description">What it does, or null.</param>
/// <param name="ParametersSchemaJson">The JSON Schema of its arguments object, as JSON text.</param>
public sealed record ChatTemplateTool(string Name, string? Description, string ParametersSchemaJson);

/// <summary>A call the assistant made.</summary>
/// <param name="Id">The call id (families that show ids render it; others ignore it).</param>
/// <param name="Name">The function name.</param>
/// <param name="ArgumentsJson">The arguments object as JSON text.</param>
public sealed record ChatTemplateToolCall(string Id, string Name, string ArgumentsJson);

/// <summary>A rendered prompt.</summary>
/// <param name="Text">The prompt text, exactly as the family's published template renders it (a leading BOS token's text included when the template writes it).</param>
/// <param name="AddBos">Whether to put the BOS id first when encoding: true/false, or null to follow the model folder's convention.
/// Templates that write the BOS text themselves say false: the encoder maps that leading text to the BOS id.</param>
public sealed record ChatPrompt(string Text, bool? AddBos);

/// <summary>One message of a conversation, in the role vocabulary all templates share.</summary>
/// <param name="Role">The author.</param>
/// <param name="Content">The message text.</param>
public sealed record ChatTemplateMessage(ChatTemplateRole Role, string Content)
{
    /// <summary>Calls an assistant message made (its <see cref="Content"/> may then be empty); null for none.</summary>
    public IReadOnlyList<ChatTemplateToolCall>? ToolCalls { get; init; }

    /// <summary>For a <see cref="ChatTemplateRole.Tool"/> message: the id of the call it answers.</summary>
    public string? ToolCallId { get; init; }

    /// <summary>For a <see cref="ChatTemplateRole.Tool"/> message: the name of the function that was called.</summary>
    public string? ToolName { get; init; }
}

/// <summary>Authors of chat messages.</summary>
public enum ChatTemplateRole
{
    /// <summary>Instructions for the assistant.</summary>
    System,

    /// <summary>The person chatting.</summary>
    User,

    /// <summary>The model.</summary>
    Assistant,

    /// <summary>The result of a tool call (see <see cref="ChatTemplateMessage.ToolCallId"/>).</summary>
    Tool,
}

/// <summary>The chat templates: the folder's own, or a built-in family.</summary>
public enum ChatTemplateKind
{
    /// <summary>
    /// The folder's own chat template when it has one that parses (<see cref="Folder"/>); otherwise a built-in family
    /// recognised from the template's markers and <c>genai_config.json</c>'s model type.
    /// </summary>
    Auto = 0,

    /// <summary>No template: message texts are passed through as plain completion text (base models such as stories260K).</summary>
    None,

    /// <summary>ChatML (<c>&lt;|im_start|&gt;role ... &lt;|im_end|&gt;</c>): Qwen 2/2.5, OpenHermes, Yi.</summary>
    ChatML,

    /// <summary>Llama 2 chat (<c>[INST] &lt;&lt;SYS&gt;&gt;</c>).</summary>
    Llama2,

    /// <summary>Llama 3 / 3.x instruct (<c>&lt;|start_header_id|&gt;</c>).</summary>
    Llama3,

    /// <summary>Phi-3 / Phi-3.5 instruct (<c>&lt;|user|&gt; ... &lt;|end|&gt;</c>).</summary>
    Phi3,

    /// <summary>Mistral instruct v0.1/v0.2 (<c>[INST] ... [/INST]</c>, no system block).</summary>
    Mistral,

    /// <summary>Gemma instruct (<c>&lt;start_of_turn&gt;</c>).</summary>
    Gemma,

    /// <summary>Zephyr (<c>&lt;|user|&gt; ... &lt;/s&gt;</c>).</summary>
    Zephyr,

    /// <summary>
    /// The model folder's own Jinja chat template (<c>chat_template.jinja</c> or <c>tokenizer_config.json</c>'s
    /// <c>chat_template</c>), rendered by <see cref="JinjaChatTemplate"/>. Auto picks it whenever the folder has a template that parses.
    /// </summary>
    Folder,
}
