using LlmKit.Chat.Templates;
using LlmKit.Generation;

namespace ChatAgent;

/// <summary>The parsed command line.</summary>
/// <param name="ModelPath">--model: an ONNX GenAI folder, or null for the default model.</param>
/// <param name="Prompt">--prompt: answer once and exit.</param>
/// <param name="System">--system: a system message.</param>
/// <param name="Raw">--raw: send the prompt as plain completion text (no chat template).</param>
/// <param name="Template">--template: a built-in chat template instead of the recognised one.</param>
/// <param name="Generation">--temperature, --top-p, --top-k, --max-tokens, --seed.</param>
internal sealed record ChatAgentSettings(
    string? ModelPath,
    string? Prompt,
    string? System,
    bool Raw,
    ChatTemplateKind Template,
    GenerationOptions Generation)
{
    /// <summary>The template the client should use: None for raw completion, else the chosen one (Auto = recognise).</summary>
    public ChatTemplateKind EffectiveTemplate => Raw ? ChatTemplateKind.None : Template;
}
