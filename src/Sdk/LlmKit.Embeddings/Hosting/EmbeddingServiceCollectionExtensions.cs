using LlmKit.Embeddings;
using Microsoft.Extensions.AI;
using Microsoft.SemanticKernel;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers a <see cref="BertOnnxEmbeddingGenerator"/> as the <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> of strings,
/// with the method name and parameter names of Semantic Kernel's ONNX connector (<c>AddBertOnnxEmbeddingGenerator</c>),
/// so switching from it is a change of <c>using</c>.
/// </summary>
/// <remarks>
/// The model is loaded on first resolution and disposed with the container. With a <c>serviceId</c> the generator is
/// registered under that key only, as Semantic Kernel does.
/// </remarks>
public static class EmbeddingServiceCollectionExtensions
{
    /// <summary>Registers a BERT-family ONNX sentence encoder.</summary>
    /// <param name="services">The services.</param>
    /// <param name="onnxModelPath">The ONNX model file.</param>
    /// <param name="vocabPath">The <c>vocab.txt</c> (or WordPiece <c>tokenizer.json</c>); sentence-transformers settings are read from its folder.</param>
    /// <param name="options">Settings.</param>
    /// <param name="serviceId">A key to register under; null registers the default generator.</param>
    public static IServiceCollection AddBertOnnxEmbeddingGenerator(
        this IServiceCollection services,
        string onnxModelPath,
        string vocabPath,
        BertOnnxOptions? options = null,
        string? serviceId = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(onnxModelPath);
        ArgumentException.ThrowIfNullOrWhiteSpace(vocabPath);
        return services.AddEmbeddingGenerator(() => BertOnnxEmbeddingGenerator.Create(onnxModelPath, vocabPath, options), serviceId);
    }

    /// <summary>
    /// Registers a BERT-family ONNX sentence encoder read from streams (Semantic Kernel's stream overload). The streams are
    /// read during this call and not used afterwards; see <see cref="BertOnnxEmbeddingGenerator.Create(Stream, Stream, BertOnnxOptions?)"/>.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="onnxModelStream">The ONNX model.</param>
    /// <param name="vocabStream">The <c>vocab.txt</c> content.</param>
    /// <param name="options">Settings.</param>
    /// <param name="serviceId">A key to register under; null registers the default generator.</param>
    public static IServiceCollection AddBertOnnxEmbeddingGenerator(
        this IServiceCollection services,
        Stream onnxModelStream,
        Stream vocabStream,
        BertOnnxOptions? options = null,
        string? serviceId = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var generator = BertOnnxEmbeddingGenerator.Create(onnxModelStream, vocabStream, options);
        return services.AddEmbeddingGenerator(() => generator, serviceId);
    }

    /// <summary>Registers a BERT-family ONNX sentence encoder loaded from a model folder (see <see cref="BertOnnxEmbeddingGenerator.Load"/>).</summary>
    /// <param name="services">The services.</param>
    /// <param name="modelDirectory">The folder holding <c>model.onnx</c> and <c>tokenizer.json</c> or <c>vocab.txt</c>.</param>
    /// <param name="options">Settings.</param>
    /// <param name="serviceId">A key to register under; null registers the default generator.</param>
    public static IServiceCollection AddBertOnnxEmbeddingGeneratorFromFolder(
        this IServiceCollection services,
        string modelDirectory,
        BertOnnxOptions? options = null,
        string? serviceId = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(modelDirectory);
        return services.AddEmbeddingGenerator(() => BertOnnxEmbeddingGenerator.Load(modelDirectory, options), serviceId);
    }

    /// <summary>Registers a BERT-family ONNX sentence encoder on a kernel builder.</summary>
    /// <param name="builder">The kernel builder.</param>
    /// <param name="onnxModelPath">The ONNX model file.</param>
    /// <param name="vocabPath">The <c>vocab.txt</c> (or WordPiece <c>tokenizer.json</c>).</param>
    /// <param name="options">Settings.</param>
    /// <param name="serviceId">A key to register under; null registers the default generator.</param>
    public static IKernelBuilder AddBertOnnxEmbeddingGenerator(
        this IKernelBuilder builder,
        string onnxModelPath,
        string vocabPath,
        BertOnnxOptions? options = null,
        string? serviceId = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddBertOnnxEmbeddingGenerator(onnxModelPath, vocabPath, options, serviceId);
        return builder;
    }

    /// <summary>Registers a BERT-family ONNX sentence encoder read from streams on a kernel builder.</summary>
    /// <param name="builder">The kernel builder.</param>
    /// <param name="onnxModelStream">The ONNX model (read during this call).</param>
    /// <param name="vocabStream">The <c>vocab.txt</c> content (read during this call).</param>
    /// <param name="options">Settings.</param>
    /// <param name="serviceId">A key to register under; null registers the default generator.</param>
    public static IKernelBuilder AddBertOnnxEmbeddingGenerator(
        this IKernelBuilder builder,
        Stream onnxModelStream,
        Stream vocabStream,
        BertOnnxOptions? options = null,
        string? serviceId = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddBertOnnxEmbeddingGenerator(onnxModelStream, vocabStream, options, serviceId);
        return builder;
    }

    /// <summary>
    /// Registers a generator made by <paramref name="factory"/> on first resolution (the container disposes it), under
    /// <paramref name="serviceId"/> when given, else as the default <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="factory">Creates the generator.</param>
    /// <param name="serviceId">A key, or null.</param>
    public static IServiceCollection AddEmbeddingGenerator(
        this IServiceCollection services,
        Func<BertOnnxEmbeddingGenerator> factory,
        string? serviceId = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(factory);
        if (serviceId is null)
        {
            services.AddSingleton(_ => factory());
            services.AddSingleton<IEmbeddingGenerator<string, Embedding<float>>>(sp => sp.GetRequiredService<BertOnnxEmbeddingGenerator>());
        }
        else
        {
            services.AddKeyedSingleton(serviceId, (_, _) => factory());
            services.AddKeyedSingleton<IEmbeddingGenerator<string, Embedding<float>>>(serviceId, (sp, key) => sp.GetRequiredKeyedService<BertOnnxEmbeddingGenerator>(key));
        }

        return services;
    }
}
