using System.Text.Json;
using LlmKit.Chat.Templates;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;

namespace LlmKit.Chat.Tools;

/// <summary>
/// One request's view of SK's <see cref="FunctionChoiceBehavior"/>: which kernel functions are offered, whether a call is
/// required, and whether calls are invoked automatically. Tool names are SK's fully qualified <c>Plugin-Function</c> names.
/// </summary>
internal sealed class KernelToolPlan
{
    /// <summary>SK's own connectors stop auto-invoking after this many requests in one call (a guard against runaway loops).</summary>
    public const int MaximumAutoInvokeAttempts = 128;

    private const char NameSeparator = '-';

    private readonly Dictionary<string, KernelFunction> _functions;

    private KernelToolPlan(ToolRequest request, Dictionary<string, KernelFunction> functions, bool autoInvoke)
    {
        Request = request;
        _functions = functions;
        AutoInvoke = autoInvoke;
    }

    public ToolRequest Request { get; }

    public bool AutoInvoke { get; }

    /// <summary>
    /// The plan of request <paramref name="requestIndex"/> (0 for the caller's request, then one per auto-invoke round),
    /// or null when no function is offered: no behavior, choice None, no functions, or the round limit reached.
    /// Required applies to the first request only, so a loop of calls ends in a text answer.
    /// </summary>
    /// <exception cref="NotSupportedException">Functions are offered and the template has no call format.</exception>
    public static KernelToolPlan? Create(FunctionChoiceBehavior? behavior, ChatHistory history, Kernel? kernel, int requestIndex, ToolCallFormat? format, ChatTemplateKind templateKind)
    {
        if (behavior is null || requestIndex >= MaximumAutoInvokeAttempts)
        {
            return null;
        }

        var configuration = behavior.GetConfiguration(new FunctionChoiceBehaviorConfigurationContext(history) { Kernel = kernel, RequestSequenceIndex = requestIndex });
        if (configuration.Choice == FunctionChoice.None || configuration.Functions is not { Count: > 0 } functions)
        {
            return null;
        }

        if (format is null)
        {
            throw new NotSupportedException(
                $"Execution setting 'function_choice_behavior': the {templateKind} chat template has no tool-call format; set OnnxChatClientOptions.ToolCallFormat (see docs/chat.md).");
        }

        var byName = new Dictionary<string, KernelFunction>(StringComparer.Ordinal);
        var tools = new List<ChatTemplateTool>(functions.Count);
        foreach (var function in functions)
        {
            string name = string.IsNullOrEmpty(function.PluginName) ? function.Name : function.PluginName + NameSeparator + function.Name;
            if (byName.TryAdd(name, function))
            {
                tools.Add(new ChatTemplateTool(name, string.IsNullOrEmpty(function.Description) ? null : function.Description, function.JsonSchema.GetRawText()));
            }
        }

        var choice = configuration.Choice == FunctionChoice.Required && requestIndex == 0 ? ToolChoice.Required : ToolChoice.Auto;
        bool parallel = format.AllowsParallelCalls && configuration.Options?.AllowParallelCalls != false;
        var request = new ToolRequest(format, tools, choice, null, parallel).Validate("Execution setting 'function_choice_behavior'");
        return new KernelToolPlan(request, byName, configuration.AutoInvoke);
    }

    /// <summary>The offered function a call names, or null.</summary>
    public KernelFunction? Find(string toolName) => _functions.GetValueOrDefault(toolName);

    /// <summary>A parsed call as SK content: plugin and function split at '-', argument values as SK's connectors pass them (strings for JSON strings, JSON text otherwise).</summary>
    public static Microsoft.SemanticKernel.FunctionCallContent ToFunctionCall(ChatTemplateToolCall call)
    {
        int separator = call.Name.IndexOf(NameSeparator, StringComparison.Ordinal);
        string? plugin = separator > 0 ? call.Name[..separator] : null;
        string function = separator > 0 ? call.Name[(separator + 1)..] : call.Name;
        var arguments = new KernelArguments();
        using var document = JsonDocument.Parse(call.ArgumentsJson);
        foreach (var property in document.RootElement.EnumerateObject())
        {
            arguments[property.Name] = property.Value.ValueKind switch
            {
                JsonValueKind.String => property.Value.GetString(),
                JsonValueKind.Null => null,
                _ => property.Value.GetRawText(),
            };
        }

        return new Microsoft.SemanticKernel.FunctionCallContent(function, plugin, call.Id, arguments);
    }

    /// <summary>The fully qualified tool name of an SK call.</summary>
    public static string ToolName(Microsoft.SemanticKernel.FunctionCallContent call) =>
        string.IsNullOrEmpty(call.PluginName) ? call.FunctionName : call.PluginName + NameSeparator + call.FunctionName;
}
