using LlmKit.Chat.Templates;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using SkFunctionCallContent = Microsoft.SemanticKernel.FunctionCallContent;
using SkFunctionResultContent = Microsoft.SemanticKernel.FunctionResultContent;

namespace LlmKit.Chat.Tools;

/// <summary>
/// Invokes the calls of one assistant message through the kernel, as SK's own connectors do: each call runs through the
/// kernel's <see cref="IAutoFunctionInvocationFilter"/>s, and its result (or an error text the model can read) is added
/// to the history as a Tool message with a <see cref="SkFunctionResultContent"/>.
/// </summary>
internal static class KernelFunctionInvoker
{
    /// <summary>Invokes the calls in order; returns true when a filter asked to terminate the loop.</summary>
    public static async Task<bool> InvokeAsync(
        KernelToolPlan plan, ChatMessageContent message, IReadOnlyList<SkFunctionCallContent> calls, ChatHistory history,
        Kernel kernel, PromptExecutionSettings? executionSettings, int requestIndex, bool streaming, CancellationToken cancellationToken)
    {
        for (int i = 0; i < calls.Count; i++)
        {
            var call = calls[i];
            var function = plan.Find(KernelToolPlan.ToolName(call));
            if (function is null)
            {
                history.Add(new SkFunctionResultContent(call, "Error: Requested function could not be found.").ToChatMessage());
                continue;
            }

            var context = new AutoFunctionInvocationContext(kernel, function, new FunctionResult(function), history, message)
            {
                Arguments = call.Arguments ?? [],
                RequestSequenceIndex = requestIndex,
                FunctionSequenceIndex = i,
                FunctionCount = calls.Count,
                ToolCallId = call.Id,
                ExecutionSettings = executionSettings,
                CancellationToken = cancellationToken,
                IsStreaming = streaming,
            };

            object? result;
            try
            {
                await RunFiltersAsync(kernel.AutoFunctionInvocationFilters, 0, context).ConfigureAwait(false);
                result = context.Result.GetValue<object>();
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The model reads the failure and may recover, as with SK's connectors.
                result = "Error: Exception while invoking function. " + ex.Message;
            }

            history.Add(new SkFunctionResultContent(call, result ?? "").ToChatMessage());
            if (context.Terminate)
            {
                return true;
            }
        }

        return false;
    }

    private static async Task RunFiltersAsync(IList<IAutoFunctionInvocationFilter> filters, int index, AutoFunctionInvocationContext context)
    {
        if (index < filters.Count)
        {
            await filters[index].OnAutoFunctionInvocationAsync(context, next => RunFiltersAsync(filters, index + 1, next)).ConfigureAwait(false);
            return;
        }

        context.Result = await context.Function.InvokeAsync(context.Kernel, context.Arguments, context.CancellationToken).ConfigureAwait(false);
    }

    /// <summary>SK history items as template messages: calls on assistant messages, results as Tool messages.</summary>
    public static List<ChatTemplateMessage> ToTemplateMessages(ChatHistory history, Func<AuthorRole, ChatTemplateRole> toRole)
    {
        var messages = new List<ChatTemplateMessage>(history.Count);
        var callNames = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var message in history)
        {
            List<ChatTemplateToolCall>? calls = null;
            bool hasResults = false;
            foreach (var item in message.Items)
            {
                switch (item)
                {
                    case TextContent:
                        break;
                    case SkFunctionCallContent call:
                        string name = KernelToolPlan.ToolName(call);
                        string id = call.Id ?? throw new ArgumentException($"A function call to '{name}' in the chat history has no id.", nameof(history));
                        callNames[id] = name;
                        (calls ??= []).Add(new ChatTemplateToolCall(id, name, ArgumentsJson(call.Arguments)));
                        break;
                    case SkFunctionResultContent result:
                        hasResults = true;
                        messages.Add(new ChatTemplateMessage(ChatTemplateRole.Tool, ChatToolMapper.ResultText(result.Result))
                        {
                            ToolCallId = result.CallId,
                            ToolName = result.CallId is { } callId && callNames.TryGetValue(callId, out string? known) ? known : result.FunctionName,
                        });
                        break;
                    default:
                        throw new NotSupportedException($"Chat message content of type {item.GetType().Name} is not supported by LlmKit's ONNX GenAI service (text, function calls and function results only).");
                }
            }

            if (!hasResults)
            {
                messages.Add(new ChatTemplateMessage(toRole(message.Role), message.Content ?? "") { ToolCalls = calls });
            }
        }

        return messages;
    }

    private static string ArgumentsJson(KernelArguments? arguments)
    {
        var values = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, value) in arguments ?? [])
        {
            values[key] = value;
        }

        return ChatToolMapper.SerializeCompact(values);
    }
}
