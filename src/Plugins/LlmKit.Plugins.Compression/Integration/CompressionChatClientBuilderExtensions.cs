using LlmKit.Plugins.Compression;
using LlmKit.Plugins.Compression.History;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.Extensions.AI;

/// <summary><see cref="ChatClientBuilder"/> extensions for history compression.</summary>
public static class CompressionChatClientBuilderExtensions
{
    /// <summary>
    /// Adds a <see cref="CompressingChatClient"/> that reduces every request's messages with <paramref name="reducer"/>,
    /// or, when null, with the <see cref="CompressingHistoryReducer"/> registered by <c>AddPromptCompression</c>.
    /// </summary>
    /// <param name="builder">The chat client builder.</param>
    /// <param name="reducer">The reducer; null to resolve one from the services.</param>
    /// <returns><paramref name="builder"/>.</returns>
    /// <exception cref="InvalidOperationException">No reducer was given and none is registered.</exception>
    public static ChatClientBuilder UseCompression(this ChatClientBuilder builder, IChatReducer? reducer = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use((inner, services) => new CompressingChatClient(
            inner,
            reducer ?? services.GetService<CompressingHistoryReducer>() ?? throw new InvalidOperationException(
                "UseCompression found no reducer: pass one, or call services.AddPromptCompression() so a CompressingHistoryReducer is registered.")));
    }

    /// <summary>Adds a <see cref="CompressingChatClient"/> whose <see cref="CompressingHistoryReducer"/> uses <paramref name="compressor"/>.</summary>
    /// <param name="builder">The chat client builder.</param>
    /// <param name="compressor">The compressor.</param>
    /// <param name="configure">Sets the budget and behaviour.</param>
    /// <returns><paramref name="builder"/>.</returns>
    public static ChatClientBuilder UseCompression(this ChatClientBuilder builder, PromptCompressor compressor, Action<CompressingHistoryReducerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(compressor);
        var options = new CompressingHistoryReducerOptions();
        configure?.Invoke(options);
        return builder.UseCompression(new CompressingHistoryReducer(compressor, options));
    }
}
