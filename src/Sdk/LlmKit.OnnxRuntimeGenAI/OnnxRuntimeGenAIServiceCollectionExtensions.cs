using LlmKit.Generation;
using LlmKit.Hosting;
using LlmKit.Scoring;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.SemanticKernel;

namespace LlmKit.OnnxRuntimeGenAI;

/// <summary>
/// Makes onnxruntime-genai available to <c>AddLlmKit</c>: a registration whose <see cref="LlmKitOptions.Engine"/> is
/// <c>OnnxRuntimeGenAI</c> then runs on <see cref="OnnxRuntimeGenAIEngine"/>, with the same <c>IChatClient</c>,
/// <c>IChatCompletionService</c>, <c>ITextGenerationService</c>, <see cref="ITokenScorer"/> and tokenizer services.
/// </summary>
/// <example>
/// <code>
/// // appsettings.json: { "LlmKit": { "ModelPath": "models/phi-3-mini", "Engine": "OnnxRuntimeGenAI", "ExecutionProvider": "cuda" } }
/// services.AddLlmKit(configuration.GetSection("LlmKit")).UseOnnxRuntimeGenAI();
/// </code>
/// </example>
public static partial class OnnxRuntimeGenAIServiceCollectionExtensions
{
    /// <summary>
    /// Registers the onnxruntime-genai engine so any LlmKit registration on these services (keyed or not) can select it
    /// with <c>Engine: OnnxRuntimeGenAI</c>. Registrations that leave <see cref="LlmKitOptions.Engine"/> unset keep
    /// LlmKit's own engine. Calling it more than once is harmless.
    /// </summary>
    /// <param name="services">The services.</param>
    public static IServiceCollection UseOnnxRuntimeGenAI(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ILlmKitEngineProvider, OnnxRuntimeGenAIEngineProvider>());
        return services;
    }

    /// <summary>Registers the onnxruntime-genai engine on a kernel builder's services (see the <see cref="IServiceCollection"/> overload).</summary>
    /// <param name="builder">The kernel builder.</param>
    public static IKernelBuilder UseOnnxRuntimeGenAI(this IKernelBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.UseOnnxRuntimeGenAI();
        return builder;
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Loaded model {ModelId} from {Folder} with onnxruntime-genai in {LoadMs:F0} ms (type {ModelType}, max length {MaxLength})")]
    internal static partial void LogLoaded(ILogger logger, string modelId, string folder, double loadMs, string modelType, int maxLength);
}

/// <summary>The <see cref="ILlmKitEngineProvider"/> named <c>OnnxRuntimeGenAI</c>; registered by <c>UseOnnxRuntimeGenAI()</c>.</summary>
/// <remarks>Thread-safe; stateless.</remarks>
public sealed class OnnxRuntimeGenAIEngineProvider : ILlmKitEngineProvider
{
    /// <inheritdoc />
    public string Name => LlmKitEngines.OnnxRuntimeGenAI;

    /// <inheritdoc />
    /// <remarks>Maps <see cref="LlmKitOptions.IntraOpThreads"/>, <see cref="LlmKitOptions.ExecutionProvider"/>,
    /// <see cref="LlmKitOptions.MaxLength"/>, <see cref="LlmKitOptions.ModelId"/> and <see cref="LlmKitOptions.Adapters"/>. <see cref="LlmKitOptions.ReusePromptPrefixes"/>
    /// does not apply (onnxruntime-genai keeps no KV cache between requests).</remarks>
    public IGenerationEngine Load(LlmKitOptions options, IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(services);
        var engine = OnnxRuntimeGenAIEngine.Load(options.ModelPath!, new OnnxRuntimeGenAIEngineOptions
        {
            IntraOpThreads = options.IntraOpThreads,
            ExecutionProviders = options.ExecutionProvider is { } provider ? [provider] : null,
            MaxLength = options.MaxLength,
            ModelId = options.ModelId,
        });
        foreach (var (adapterName, path) in options.Adapters)
        {
            try
            {
                engine.LoadAdapter(adapterName, path);
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException or ArgumentException)
            {
                engine.Dispose();
                throw new InvalidOperationException($"LlmKit:Adapters:{adapterName} ('{path}') could not be loaded: {ex.Message}", ex);
            }
        }

        var logger = (ILogger?)services.GetService<ILoggerFactory>()?.CreateLogger("LlmKit.OnnxRuntimeGenAI") ?? NullLogger.Instance;
        OnnxRuntimeGenAIServiceCollectionExtensions.LogLoaded(logger, engine.ModelId, engine.Folder, engine.LoadTime.TotalMilliseconds, engine.ModelType, engine.MaxLength);
        return engine;
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException"><paramref name="engine"/> is not an <see cref="OnnxRuntimeGenAIEngine"/>.</exception>
    public ITokenScorer CreateScorer(IGenerationEngine engine) => engine is OnnxRuntimeGenAIEngine oga
        ? new OnnxRuntimeGenAITokenScorer(oga)
        : throw new ArgumentException($"Expected an OnnxRuntimeGenAIEngine, got {engine?.GetType().Name ?? "null"}.", nameof(engine));
}
