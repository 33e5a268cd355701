using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace LlmKit.Plugins.Compression;

/// <summary>A delegating <see cref="IChatClient"/> that reduces the message list with an <see cref="IChatReducer"/> before every request.</summary>
/// <remarks>The caller's message list is not modified. Thread-safe when the reducer and inner client are.</remarks>
public sealed class CompressingChatClient : DelegatingChatClient
{
    private readonly IChatReducer _reducer;

    /// <summary>Creates the client.</summary>
    /// <param name="innerClient">The client requests go to.</param>
    /// <param name="reducer">Reduces the messages (e.g. <see cref="History.CompressingHistoryReducer"/>).</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public CompressingChatClient(IChatClient innerClient, IChatReducer reducer)
        : base(innerClient)
    {
        ArgumentNullException.ThrowIfNull(reducer);
        _reducer = reducer;
    }

    /// <inheritdoc />
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        IEnumerable<ChatMessage> reduced = await _reducer.ReduceAsync(messages, cancellationToken).ConfigureAwait(false);
        return await base.GetResponseAsync(reduced, options, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        IEnumerable<ChatMessage> reduced = await _reducer.ReduceAsync(messages, cancellationToken).ConfigureAwait(false);
        await foreach (ChatResponseUpdate update in base.GetStreamingResponseAsync(reduced, options, cancellationToken).ConfigureAwait(false))
        {
            yield return update;
        }
    }
}
