using Microsoft.SemanticKernel;

namespace LlmKit.Plugins.Moderation.Integration;

/// <summary>
/// Checks every kernel function call: its arguments before it runs (injection), and its result after (indirect
/// injection through tool output; a prompt function's answer is checked against the domain instead). A blocked
/// argument stops the call with the refusal; a blocked tool result is replaced by
/// <see cref="DomainModerator.WithheldResultMessage"/>; an off-domain answer by <see cref="DomainModerator.RefusalMessage"/>.
/// The <see cref="ModerationResult"/> is in the new result's metadata under <see cref="ModerationPromptRenderFilter.ResultMetadataKey"/>.
/// </summary>
/// <remarks>Functions of the moderation plugin itself are not checked (checking a suspicious text must be possible). Thread-safe.</remarks>
/// <param name="moderator">The moderator.</param>
public sealed class ModerationFunctionInvocationFilter(DomainModerator moderator) : IFunctionInvocationFilter
{
    private readonly DomainModerator _moderator = moderator ?? throw new ArgumentNullException(nameof(moderator));

    /// <inheritdoc />
    public async Task OnFunctionInvocationAsync(FunctionInvocationContext context, Func<FunctionInvocationContext, Task> next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        if (!_moderator.ModeratesFunctions || context.Function.PluginName == ModerationPlugin.DefaultPluginName)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        foreach (var (_, argument) in context.Arguments)
        {
            string? text = ModerationText.Of(argument);
            if (text is null)
            {
                continue;
            }

            var result = await _moderator.CheckAsync(text, ModerationTarget.FunctionArgument, context.CancellationToken).ConfigureAwait(false);
            if (!result.Allowed)
            {
                context.Result = WithMetadata(new FunctionResult(context.Function, _moderator.RefusalMessage), result);
                return;
            }
        }

        await next(context).ConfigureAwait(false);
        if (context.IsStreaming || context.Result is null)
        {
            return;
        }

        object? value = context.Result.GetValue<object>();
        bool isModelAnswer = value is ChatMessageContent or IEnumerable<ChatMessageContent>;
        if (isModelAnswer && !_moderator.ModeratesOutput)
        {
            return;
        }

        string? resultText = ModerationText.Of(value);
        if (resultText is null)
        {
            return;
        }

        var target = isModelAnswer ? ModerationTarget.ModelOutput : ModerationTarget.FunctionResult;
        var verdict = await _moderator.CheckAsync(resultText, target, context.CancellationToken).ConfigureAwait(false);
        if (!verdict.Allowed)
        {
            string replacement = isModelAnswer ? _moderator.RefusalMessage : _moderator.WithheldResultMessage;
            context.Result = WithMetadata(new FunctionResult(context.Result, replacement), verdict);
        }
    }

    private static FunctionResult WithMetadata(FunctionResult result, ModerationResult verdict)
    {
        var metadata = result.Metadata is null ? new Dictionary<string, object?>() : new Dictionary<string, object?>(result.Metadata);
        metadata[ModerationPromptRenderFilter.ResultMetadataKey] = verdict;
        return new FunctionResult(result.Function, result.GetValue<object>(), result.Culture, metadata);
    }
}
