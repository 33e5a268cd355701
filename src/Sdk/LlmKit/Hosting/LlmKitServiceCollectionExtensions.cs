using LlmKit.Chat;
using LlmKit.Generation;
using LlmKit.Models;
using LlmKit.Scoring;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.ML.Tokenizers;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using Microsoft.SemanticKernel.TextGeneration;

namespace LlmKit.Hosting;

/// <summary>
/// Registers a local ONNX GenAI model and the services over it: <see cref="OnnxGenAIModel"/> (a singleton the container
/// disposes), <see cref="IGenerationEngine"/> (that model, or the engine <see cref="LlmKitOptions.Engine"/> names), <see cref="OnnxChatClient"/> / <see cref="IChatClient"/>, <see cref="OnnxGenAIChatCompletionService"/> /
/// <see cref="IChatCompletionService"/> / <see cref="ITextGenerationService"/>, <see cref="ITokenScorer"/>, the model's
/// <see cref="Tokenizer"/>, and a <see cref="Kernel"/>. Options are validated when the host starts.
/// </summary>
/// <remarks>
/// Keyed registrations (<see cref="AddKeyedLlmKit(IServiceCollection, string, IConfiguration)"/>) register every
/// service under the key, which is also the Semantic Kernel service id, so one container can hold several models.
/// The model is loaded on first resolution; its load time is logged.
/// </remarks>
public static partial class LlmKitServiceCollectionExtensions
{
    /// <summary>Registers a model configured from a section (e.g. <c>configuration.GetSection("LlmKit")</c>).</summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">The section holding <see cref="LlmKitOptions"/>.</param>
    public static IServiceCollection AddLlmKit(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        return Register(services, null, builder => builder.Bind(configuration));
    }

    /// <summary>Registers a model configured in code.</summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the options (at least <see cref="LlmKitOptions.ModelPath"/>).</param>
    public static IServiceCollection AddLlmKit(this IServiceCollection services, Action<LlmKitOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        return Register(services, null, builder => builder.Configure(configure));
    }

    /// <summary>Registers a model under <paramref name="serviceKey"/> (also its Semantic Kernel service id), configured from a section.</summary>
    /// <param name="services">The services.</param>
    /// <param name="serviceKey">The key; must not be empty.</param>
    /// <param name="configuration">The section holding <see cref="LlmKitOptions"/>.</param>
    public static IServiceCollection AddKeyedLlmKit(this IServiceCollection services, string serviceKey, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(serviceKey);
        ArgumentNullException.ThrowIfNull(configuration);
        return Register(services, serviceKey, builder => builder.Bind(configuration));
    }

    /// <summary>Registers a model under <paramref name="serviceKey"/> (also its Semantic Kernel service id), configured in code.</summary>
    /// <param name="services">The services.</param>
    /// <param name="serviceKey">The key; must not be empty.</param>
    /// <param name="configure">Sets the options (at least <see cref="LlmKitOptions.ModelPath"/>).</param>
    public static IServiceCollection AddKeyedLlmKit(this IServiceCollection services, string serviceKey, Action<LlmKitOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(serviceKey);
        ArgumentNullException.ThrowIfNull(configure);
        return Register(services, serviceKey, builder => builder.Configure(configure));
    }

    /// <summary>
    /// Registers a local ONNX GenAI chat completion service, shaped like Semantic Kernel's
    /// <c>AddOnnxRuntimeGenAIChatCompletion</c> so switching is a one-line change.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="modelId">The model id the service reports.</param>
    /// <param name="modelPath">The ONNX GenAI model folder.</param>
    /// <param name="serviceId">Semantic Kernel service id (the DI key); null registers the default service.</param>
    /// <param name="configure">Further options (chat template, threads, default settings); may be null.</param>
    public static IServiceCollection AddOnnxGenAIChatCompletion(this IServiceCollection services, string modelId, string modelPath, string? serviceId = null, Action<LlmKitOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(modelId);
        ArgumentException.ThrowIfNullOrWhiteSpace(modelPath);
        return Register(services, string.IsNullOrEmpty(serviceId) ? null : serviceId, ConfigureModel(modelId, modelPath, configure));
    }

    /// <summary>Registers a local ONNX GenAI chat completion service on a kernel builder (see the <see cref="IServiceCollection"/> overload).</summary>
    /// <param name="builder">The kernel builder.</param>
    /// <param name="modelId">The model id the service reports.</param>
    /// <param name="modelPath">The ONNX GenAI model folder.</param>
    /// <param name="serviceId">Semantic Kernel service id; null registers the default service.</param>
    /// <param name="configure">Further options; may be null.</param>
    public static IKernelBuilder AddOnnxGenAIChatCompletion(this IKernelBuilder builder, string modelId, string modelPath, string? serviceId = null, Action<LlmKitOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(modelId);
        ArgumentException.ThrowIfNullOrWhiteSpace(modelPath);
        Register(builder.Services, string.IsNullOrEmpty(serviceId) ? null : serviceId, ConfigureModel(modelId, modelPath, configure), addKernel: false);
        return builder;
    }

    /// <summary>Registers a model configured from a section on a kernel builder.</summary>
    /// <param name="builder">The kernel builder.</param>
    /// <param name="configuration">The section holding <see cref="LlmKitOptions"/>.</param>
    public static IKernelBuilder AddLlmKit(this IKernelBuilder builder, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configuration);
        Register(builder.Services, null, options => options.Bind(configuration), addKernel: false);
        return builder;
    }

    private static Action<OptionsBuilder<LlmKitOptions>> ConfigureModel(string modelId, string modelPath, Action<LlmKitOptions>? configure) =>
        builder => builder.Configure(options =>
        {
            options.ModelId = modelId;
            options.ModelPath = modelPath;
            configure?.Invoke(options);
        });

    // addKernel: a kernel builder makes its own Kernel, so only plain service collections get a Kernel registration.
    private static IServiceCollection Register(IServiceCollection services, string? key, Action<OptionsBuilder<LlmKitOptions>> configure, bool addKernel = true)
    {
        string name = key ?? Options.DefaultName;
        var optionsBuilder = services.AddOptions<LlmKitOptions>(name);
        configure(optionsBuilder);
        optionsBuilder.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LlmKitOptions>, LlmKitOptionsValidator>());

        Add(services, key, sp => LoadModel(sp, name));
        Add(services, key, sp => LoadEngine(sp, name, key));
        Add(services, key, sp =>
        {
            var options = sp.GetRequiredService<IOptionsMonitor<LlmKitOptions>>().Get(name);
            var clientOptions = new OnnxChatClientOptions { ChatTemplate = options.ChatTemplate, ModelId = options.ModelId, DefaultGeneration = options.Generation };
            return new OnnxChatClient(Resolve<IGenerationEngine>(sp, key), clientOptions, sp.GetService<ILogger<OnnxChatClient>>());
        });
        Add<IChatClient>(services, key, sp => Resolve<OnnxChatClient>(sp, key));
        Add(services, key, sp => new OnnxGenAIChatCompletionService(Resolve<OnnxChatClient>(sp, key)));
        Add<IChatCompletionService>(services, key, sp => Resolve<OnnxGenAIChatCompletionService>(sp, key));
        Add<ITextGenerationService>(services, key, sp => Resolve<OnnxGenAIChatCompletionService>(sp, key));
        Add<ITokenScorer>(services, key, sp =>
        {
            var engine = Resolve<IGenerationEngine>(sp, key);
            return engine is OnnxGenAIModel model ? new OnnxTokenScorer(model) : FindEngine(sp, name).CreateScorer(engine);
        });
        Add(services, key, sp => Resolve<IGenerationEngine>(sp, key).Tokenizer.Inner);

        if (addKernel && !services.Any(d => d.ServiceType == typeof(Kernel) && !d.IsKeyedService))
        {
            services.AddKernel();
        }

        return services;
    }

    // The IGenerationEngine registration: LlmKit's own model, or the registered provider's engine (owned by the container).
    private static IGenerationEngine LoadEngine(IServiceProvider services, string name, string? key)
    {
        var options = services.GetRequiredService<IOptionsMonitor<LlmKitOptions>>().Get(name);
        return LlmKitEngines.IsBuiltIn(options.Engine) ? Resolve<OnnxGenAIModel>(services, key) : FindEngine(services, name).Load(options, services);
    }

    private static ILlmKitEngineProvider FindEngine(IServiceProvider services, string name)
    {
        var options = services.GetRequiredService<IOptionsMonitor<LlmKitOptions>>().Get(name);
        var providers = services.GetServices<ILlmKitEngineProvider>().ToArray();
        return LlmKitEngines.Find(providers, options.Engine!) ?? throw new InvalidOperationException(
            LlmKitEngines.NotRegisteredMessage(SettingPrefix(name) + ":Engine", options.Engine!, providers.Select(p => p.Name)));
    }

    private static string SettingPrefix(string name) => string.IsNullOrEmpty(name) ? "LlmKit" : $"LlmKit[{name}]";

    private static OnnxGenAIModel LoadModel(IServiceProvider services, string name)
    {
        var options = services.GetRequiredService<IOptionsMonitor<LlmKitOptions>>().Get(name);
        if (!LlmKitEngines.IsBuiltIn(options.Engine))
        {
            throw new InvalidOperationException(
                $"{SettingPrefix(name)}:Engine is '{options.Engine}', so LlmKit's own OnnxGenAIModel is not loaded: resolve IGenerationEngine, IChatClient or IChatCompletionService instead.");
        }

        var logger = (ILogger?)services.GetService<ILoggerFactory>()?.CreateLogger("LlmKit.Hosting") ?? NullLogger.Instance;
        var model = OnnxGenAIModel.Load(options.ModelPath!, new OnnxGenAIModelOptions
        {
            IntraOpThreads = options.IntraOpThreads,
            ExecutionProviders = options.ExecutionProvider is { } provider ? [provider] : null,
            MaxLength = options.MaxLength,
            ReusePromptPrefixes = options.ReusePromptPrefixes,
            MaxPooledKvCacheBytes = options.MaxPooledKvCacheBytes,
            MaxBatchSize = options.MaxBatchSize,
        });
        foreach (var (adapterName, path) in options.Adapters)
        {
            try
            {
                model.LoadAdapter(adapterName, path);
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException or ArgumentException)
            {
                model.Dispose();
                throw new InvalidOperationException($"{SettingPrefix(name)}:Adapters:{adapterName} ('{path}') could not be loaded: {ex.Message}", ex);
            }
        }

        LogLoaded(logger, string.IsNullOrWhiteSpace(options.ModelId) ? model.ModelId : options.ModelId, model.Folder, model.LoadTime.TotalMilliseconds, model.Config.Model.Type, model.MaxLength, model.KvCacheBytesPerSequence);
        return model;
    }

    private static void Add<T>(IServiceCollection services, string? key, Func<IServiceProvider, T> factory)
        where T : class
    {
        if (key is null)
        {
            services.AddSingleton(factory);
        }
        else
        {
            services.AddKeyedSingleton(key, (sp, _) => factory(sp));
        }
    }

    private static T Resolve<T>(IServiceProvider services, string? key)
        where T : notnull => key is null ? services.GetRequiredService<T>() : services.GetRequiredKeyedService<T>(key);

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Loaded model {ModelId} from {Folder} in {LoadMs:F0} ms (type {ModelType}, max length {MaxLength}, KV cache {KvBytes} bytes per sequence)")]
    private static partial void LogLoaded(ILogger logger, string modelId, string folder, double loadMs, string modelType, int maxLength, long kvBytes);
}
