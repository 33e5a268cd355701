using System.Runtime.CompilerServices;
using LlmKit.Plugins.Moderation.Verdicts;
using Microsoft.Extensions.AI;

namespace LlmKit.Plugins.Moderation.Integration;

/// <summary>
/// Chat middleware that moderates a conversation around the inner client: the last user message (and any tool
/// results since it) before the call, and the answer after it. A blocked request is answered with
/// <see cref="DomainModerator.RefusalMessage"/> (finish reason <see cref="ChatFinishReason.ContentFilter"/>) without
/// calling the inner client; a tool result that looks like an injection is replaced by
/// <see cref="DomainModerator.WithheldResultMessage"/>; an off-domain answer is replaced by the refusal.
/// The <see cref="ModerationResult"/> is in the response's <see cref="ChatResponse.AdditionalProperties"/> under
/// <see cref="ModerationPromptRenderFilter.ResultMetadataKey"/>.
/// </summary>
/// <remarks>
/// Place it after <c>UseFunctionInvocation()</c> in the builder (so it wraps each model round and sees tool results).
/// When output moderation is on, streaming answers are buffered until the answer is checked.
/// Thread-safe when the inner client is.
/// </remarks>
public sealed class ModerationChatClient : DelegatingChatClient
{
    private readonly DomainModerator _moderator;

    /// <summary>Wraps <paramref name="innerClient"/>.</summary>
    /// <param name="innerClient">The client to moderate.</param>
    /// <param name="moderator">The moderator.</param>
    public ModerationChatClient(IChatClient innerClient, DomainModerator moderator)
        : base(innerClient)
    {
        _moderator = moderator ?? throw new ArgumentNullException(nameof(moderator));
    }

    /// <inheritdoc />
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (GeneratedVerdict.IsInProgress)
        {
            return await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        }

        var (list, blocked) = await ModerateInputAsync(messages, cancellationToken).ConfigureAwait(false);
        if (blocked is not null)
        {
            return Refusal(blocked);
        }

        var response = await base.GetResponseAsync(list, options, cancellationToken).ConfigureAwait(false);
        if (!_moderator.ModeratesOutput || HasFunctionCalls(response.Messages))
        {
            return response;
        }

        var verdict = await _moderator.CheckOutputAsync(response.Text, cancellationToken).ConfigureAwait(false);
        return verdict.Allowed ? response : Refusal(verdict);
    }

    /// <inheritdoc />
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (GeneratedVerdict.IsInProgress)
        {
            await foreach (var update in base.GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
            {
                yield return update;
            }

            yield break;
        }

        var (list, blocked) = await ModerateInputAsync(messages, cancellationToken).ConfigureAwait(false);
        if (blocked is not null)
        {
            foreach (var update in Refusal(blocked).ToChatResponseUpdates())
            {
                yield return update;
            }

            yield break;
        }

        if (!_moderator.ModeratesOutput)
        {
            await foreach (var update in base.GetStreamingResponseAsync(list, options, cancellationToken).ConfigureAwait(false))
            {
                yield return update;
            }

            yield break;
        }

        var buffered = new List<ChatResponseUpdate>();
        await foreach (var update in base.GetStreamingResponseAsync(list, options, cancellationToken).ConfigureAwait(false))
        {
            buffered.Add(update);
        }

        var response = buffered.ToChatResponse();
        ModerationResult? verdict = HasFunctionCalls(response.Messages) ? null : await _moderator.CheckOutputAsync(response.Text, cancellationToken).ConfigureAwait(false);
        var toSend = verdict is null || verdict.Allowed ? buffered : Refusal(verdict).ToChatResponseUpdates().ToList();
        foreach (var update in toSend)
        {
            yield return update;
        }
    }

    private async Task<(List<ChatMessage> Messages, ModerationResult? Blocked)> ModerateInputAsync(IEnumerable<ChatMessage> messages, CancellationToken cancellationToken)
    {
        var list = messages.ToList();
        int lastUser = list.FindLastIndex(m => m.Role == ChatRole.User);
        if (lastUser >= 0)
        {
            var result = await _moderator.CheckInputAsync(list[lastUser].Text, cancellationToken).ConfigureAwait(false);
            if (!result.Allowed)
            {
                return (list, result);
            }
        }

        if (!_moderator.ModeratesFunctions)
        {
            return (list, null);
        }

        // Tool results since the user spoke: the indirect-injection channel.
        for (int i = lastUser + 1; i < list.Count; i++)
        {
            if (list[i].Role != ChatRole.Tool)
            {
                continue;
            }

            var contents = list[i].Contents.ToList();
            bool changed = false;
            for (int c = 0; c < contents.Count; c++)
            {
                if (contents[c] is FunctionResultContent functionResult && ModerationText.Of(functionResult.Result) is { } text)
                {
                    var verdict = await _moderator.CheckAsync(text, ModerationTarget.FunctionResult, cancellationToken).ConfigureAwait(false);
                    if (!verdict.Allowed)
                    {
                        contents[c] = new FunctionResultContent(functionResult.CallId, _moderator.WithheldResultMessage);
                        changed = true;
                    }
                }
            }

            if (changed)
            {
                list[i] = new ChatMessage(list[i].Role, contents) { AuthorName = list[i].AuthorName, MessageId = list[i].MessageId };
            }
        }

        return (list, null);
    }

    private ChatResponse Refusal(ModerationResult result) =>
        new(new ChatMessage(ChatRole.Assistant, _moderator.RefusalMessage))
        {
            FinishReason = ChatFinishReason.ContentFilter,
            AdditionalProperties = new AdditionalPropertiesDictionary { [ModerationPromptRenderFilter.ResultMetadataKey] = result },
        };

    private static bool HasFunctionCalls(IList<ChatMessage> messages) =>
        messages.Any(m => m.Contents.Any(c => c is FunctionCallContent));
}

/// <summary>Adds <see cref="ModerationChatClient"/> to a <see cref="ChatClientBuilder"/> pipeline.</summary>
public static class ModerationChatClientBuilderExtensions
{
    /// <summary>
    /// Adds moderation to the pipeline. With no <paramref name="moderator"/>, the <see cref="DomainModerator"/> is
    /// resolved from the builder's services (register it with <c>AddDomainModeration</c>).
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="moderator">The moderator, or null to resolve it from services.</param>
    /// <returns>The builder.</returns>
    public static ChatClientBuilder UseModeration(this ChatClientBuilder builder, DomainModerator? moderator = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use((inner, services) =>
        {
            var resolved = moderator ?? services.GetService(typeof(DomainModerator)) as DomainModerator
                ?? throw new InvalidOperationException("UseModeration found no DomainModerator: pass one, or register it with services.AddDomainModeration(...).");
            return new ModerationChatClient(inner, resolved);
        });
    }
}
