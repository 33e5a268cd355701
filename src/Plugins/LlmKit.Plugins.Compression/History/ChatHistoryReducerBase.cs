using Microsoft.Extensions.AI;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;

namespace LlmKit.Plugins.Compression.History;

/// <summary>
/// The two public faces every LlmKit history reducer has — Semantic Kernel's <see cref="IChatHistoryReducer"/> and
/// Microsoft.Extensions.AI's <see cref="IChatReducer"/> — over one reduction written once per reducer for any message type.
/// </summary>
public abstract class ChatHistoryReducerBase : IChatHistoryReducer, IChatReducer
{
    private protected ChatHistoryReducerBase()
    {
    }

    /// <summary>Reduces a Semantic Kernel history.</summary>
    /// <param name="chatHistory">The history; not modified.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The reduced history, or null when it already fits.</returns>
    public async Task<IEnumerable<ChatMessageContent>?> ReduceAsync(IReadOnlyList<ChatMessageContent> chatHistory, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(chatHistory);
        cancellationToken.ThrowIfCancellationRequested();
        return await ReduceCoreAsync(chatHistory, SemanticKernelMessageAdapter.Instance, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reduces a Microsoft.Extensions.AI message list.</summary>
    /// <param name="messages">The messages; not modified.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The reduced messages (the same messages when they already fit).</returns>
    public async Task<IEnumerable<ChatMessage>> ReduceAsync(IEnumerable<ChatMessage> messages, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        cancellationToken.ThrowIfCancellationRequested();
        var list = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        return await ReduceCoreAsync(list, ExtensionsAIMessageAdapter.Instance, cancellationToken).ConfigureAwait(false) ?? list;
    }

    /// <summary>The reduction: a new list, or null when the messages already fit.</summary>
    private protected abstract Task<List<TMessage>?> ReduceCoreAsync<TMessage>(IReadOnlyList<TMessage> messages, IMessageAdapter<TMessage> adapter, CancellationToken cancellationToken)
        where TMessage : class;
}
