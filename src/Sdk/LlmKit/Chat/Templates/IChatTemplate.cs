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
}

/// <summary>A rendered prompt.</summary>
/// <param name="Text">The prompt text, exactly as the family's published template renders it (a leading BOS token's text included when the template writes it).</param>
/// <param name="AddBos">Whether to put the BOS id first when encoding: true/false, or null to follow the model folder's convention.
/// Templates that write the BOS text themselves say false: the encoder maps that leading text to the BOS id.</param>
public sealed record ChatPrompt(string Text, bool? AddBos);

/// <summary>One message of a conversation, in the role vocabulary all templates share.</summary>
/// <param name="Role">The author.</param>
/// <param name="Content">The message text.</param>
public sealed record ChatTemplateMessage(ChatTemplateRole Role, string Content);

/// <summary>Authors of chat messages.</summary>
public enum ChatTemplateRole
{
    /// <summary>Instructions for the assistant.</summary>
    System,

    /// <summary>The person chatting.</summary>
    User,

    /// <summary>The model.</summary>
    Assistant,
}

/// <summary>The built-in chat templates.</summary>
public enum ChatTemplateKind
{
    /// <summary>Recognise the family from the folder's <c>tokenizer_config.json</c> <c>chat_template</c> and <c>genai_config.json</c> model type.</summary>
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
}
