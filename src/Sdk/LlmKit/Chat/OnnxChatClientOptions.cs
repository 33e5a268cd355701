using LlmKit.Chat.Templates;
using LlmKit.Generation;

namespace LlmKit.Chat;

/// <summary>Settings of an <see cref="OnnxChatClient"/> (and of the Semantic Kernel service built on it).</summary>
public sealed class OnnxChatClientOptions
{
    /// <summary>
    /// Which template renders conversations: the folder's own (<see cref="ChatTemplateKind.Folder"/>) or a built-in family.
    /// Default: <see cref="ChatTemplateKind.Auto"/> (the folder's template when it parses, else the recognised built-in).
    /// </summary>
    public ChatTemplateKind ChatTemplate { get; set; } = ChatTemplateKind.Auto;

    /// <summary>A custom template; when set it wins over <see cref="ChatTemplate"/>.</summary>
    public IChatTemplate? Template { get; set; }

    /// <summary>The model id reported in responses and metadata. Default: the model folder's name.</summary>
    public string? ModelId { get; set; }

    /// <summary>
    /// How the model writes function calls; null (default) to use the template family's format
    /// (<see cref="Tools.ToolCallFormats.For"/>). Set it for a custom template or a model fine-tuned on another format.
    /// </summary>
    public Tools.ToolCallFormat? ToolCallFormat { get; set; }

    /// <summary>Generation settings used where a request leaves a value unset (null values fall through to the folder's defaults).</summary>
    public GenerationOptions? DefaultGeneration { get; set; }
}
