using Microsoft.SemanticKernel;

namespace LlmKit.Plugins.Moderation.Integration;

/// <summary>
/// Checks a prompt function's user-supplied arguments before its prompt is rendered, so a blocked request never
/// reaches the chat service: the function returns <see cref="DomainModerator.RefusalMessage"/> instead, with the
/// <see cref="ModerationResult"/> under the metadata key <see cref="ResultMetadataKey"/>. Allowed input passes unchanged.
/// </summary>
/// <remarks>
/// String arguments (or the last user message of a ChatHistory argument) are checked as user input; restrict the
/// names with <see cref="ArgumentNames"/>. Thread-safe.
/// </remarks>
/// <param name="moderator">The moderator.</param>
public sealed class ModerationPromptRenderFilter(DomainModerator moderator) : IPromptRenderFilter
{
    /// <summary>The metadata key under which blocked results carry their <see cref="ModerationResult"/>.</summary>
    public const string ResultMetadataKey = "llmkit.moderation";

    private readonly DomainModerator _moderator = moderator ?? throw new ArgumentNullException(nameof(moderator));

    /// <summary>Argument names to check (case-insensitive); empty checks every argument. Default: empty.</summary>
    public ISet<string> ArgumentNames { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

    /// <inheritdoc />
    public async Task OnPromptRenderAsync(PromptRenderContext context, Func<PromptRenderContext, Task> next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        foreach (var (name, value) in context.Arguments)
        {
            if (ArgumentNames.Count > 0 && !ArgumentNames.Contains(name))
            {
                continue;
            }

            string? text = ModerationText.Of(value);
            if (text is null)
            {
                continue;
            }

            var result = await _moderator.CheckInputAsync(text, context.CancellationToken).ConfigureAwait(false);
            if (!result.Allowed)
            {
                // Setting Result without calling next short-circuits the function: no rendering, no model call.
                context.Result = new FunctionResult(context.Function, _moderator.RefusalMessage, metadata: new Dictionary<string, object?> { [ResultMetadataKey] = result });
                return;
            }
        }

        await next(context).ConfigureAwait(false);
    }
}
