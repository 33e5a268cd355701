using LlmKit.Chat.Templates;

namespace LlmKit.Chat.Tools;

/// <summary>What the model must do with the tools of a request.</summary>
internal enum ToolChoice
{
    /// <summary>Text or calls, as the model chooses (M.E.AI <c>ToolMode.Auto</c>, SK <c>FunctionChoiceBehavior.Auto</c>).</summary>
    Auto,

    /// <summary>At least one call to any offered function (<c>RequireAny</c>, <c>Required</c>).</summary>
    Required,

    /// <summary>A call to <see cref="ToolRequest.FunctionName"/> (<c>RequireSpecific</c>).</summary>
    Specific,
}

/// <summary>The tools of one request, resolved against the template's call format. Immutable.</summary>
/// <param name="Format">How the model writes calls.</param>
/// <param name="Tools">The functions offered (at least one).</param>
/// <param name="Choice">Text-or-call, any call, or one function.</param>
/// <param name="FunctionName">For <see cref="ToolChoice.Specific"/>: the function to call.</param>
/// <param name="Parallel">Whether one answer may hold several calls.</param>
internal sealed record ToolRequest(ToolCallFormat Format, IReadOnlyList<ChatTemplateTool> Tools, ToolChoice Choice, string? FunctionName, bool Parallel)
{
    /// <summary>The functions a call may name under <see cref="Choice"/>.</summary>
    public IReadOnlyList<ChatTemplateTool> Callable => Choice == ToolChoice.Specific ? [.. Tools.Where(t => t.Name == FunctionName)] : Tools;

    /// <summary>Checks names: unique, and <see cref="FunctionName"/> among them.</summary>
    /// <exception cref="ArgumentException">A duplicate or unknown function name; <paramref name="setting"/> names the setting.</exception>
    public ToolRequest Validate(string setting)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var tool in Tools)
        {
            if (!names.Add(tool.Name))
            {
                throw new ArgumentException($"{setting}: two tools are named '{tool.Name}'; function names must be unique.");
            }
        }

        if (Choice == ToolChoice.Specific && (FunctionName is null || !names.Contains(FunctionName)))
        {
            throw new ArgumentException($"{setting}: the required function '{FunctionName}' is not among the offered tools ({string.Join(", ", names)}).");
        }

        return this;
    }
}
