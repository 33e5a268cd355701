using LlmKit.Embeddings;
using LlmKit.Plugins.FewShot;
using LlmKit.Plugins.FewShot.Integration;
using LlmKit.Plugins.FewShot.Rendering;
using LlmKit.Plugins.FewShot.Selection;
using LlmKit.Plugins.FewShot.Storage;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.ML.Tokenizers;
using Microsoft.SemanticKernel;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the few-shot plugin's services.</summary>
public static class FewShotServiceCollectionExtensions
{
    /// <summary>Registers few-shot selection with settings bound from <paramref name="configuration"/> (pass the <c>LlmKit:FewShot</c> section).</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The configuration section holding <see cref="FewShotOptions"/>.</param>
    /// <returns>The service collection, for chaining.</returns>
    public static IServiceCollection AddFewShot(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<FewShotOptions>().Bind(configuration);
        return services.AddFewShotCore();
    }

    /// <summary>
    /// Registers few-shot selection: a <see cref="FewShotExampleStore"/> (loaded from <see cref="FewShotOptions.ExamplesPath"/> when set),
    /// embeddings from the registered <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> of strings (else a private
    /// model-free <see cref="HashingEmbeddingGenerator"/>, which is not added to the container), the <see cref="IFewShotSelector"/> described by the options (wrapped for label balance and a token budget
    /// when asked), a <see cref="FewShotPromptRenderer"/> and the <see cref="FewShotPlugin"/>. Existing registrations are kept.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Adjusts the settings.</param>
    /// <returns>The service collection, for chaining.</returns>
    public static IServiceCollection AddFewShot(this IServiceCollection services, Action<FewShotOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var builder = services.AddOptions<FewShotOptions>();
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        return services.AddFewShotCore();
    }

    /// <summary>Registers few-shot selection (see <see cref="AddFewShot(IServiceCollection, Action{FewShotOptions}?)"/>) and the kernel plugin.</summary>
    /// <param name="builder">The kernel builder.</param>
    /// <param name="configure">Adjusts the settings.</param>
    /// <returns>The kernel builder, for chaining.</returns>
    public static IKernelBuilder AddFewShotPlugin(this IKernelBuilder builder, Action<FewShotOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddFewShot(configure);
        AddKernelPlugin(builder.Services);
        return builder;
    }

    /// <summary>Registers few-shot selection with settings from <paramref name="configuration"/>, and the kernel plugin.</summary>
    /// <param name="builder">The kernel builder.</param>
    /// <param name="configuration">The configuration section holding <see cref="FewShotOptions"/>.</param>
    /// <returns>The kernel builder, for chaining.</returns>
    public static IKernelBuilder AddFewShotPlugin(this IKernelBuilder builder, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddFewShot(configuration);
        AddKernelPlugin(builder.Services);
        return builder;
    }

    private static IServiceCollection AddFewShotCore(this IServiceCollection services)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FewShotOptions>, FewShotOptionsValidator>());
        services.TryAddSingleton(sp => CreateStore(sp.GetRequiredService<IOptions<FewShotOptions>>().Value));
        // The default generator stays private: registered in the shared slot it would also become the generator of
        // every other plugin (the moderator and ordinal heads have their own tuned defaults).
        services.TryAddSingleton(sp => new ExampleEmbeddingCache(
            sp.GetRequiredService<FewShotExampleStore>(),
            sp.GetService<IEmbeddingGenerator<string, Embedding<float>>>() ?? new HashingEmbeddingGenerator()));
        services.TryAddSingleton(CreateSelector);
        services.TryAddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<FewShotOptions>>().Value;
            return new FewShotPromptRenderer(new FewShotPromptOptions { Instruction = options.Instruction, Ordering = options.Ordering });
        });
        services.TryAddSingleton(sp => new FewShotPlugin(
            sp.GetRequiredService<IFewShotSelector>(),
            sp.GetRequiredService<FewShotPromptRenderer>(),
            sp.GetRequiredService<IOptions<FewShotOptions>>().Value.Count,
            executionSettings: null,
            sp.GetService<ILogger<FewShotPlugin>>()));
        return services;
    }

    private static void AddKernelPlugin(IServiceCollection services)
    {
        services.AddSingleton(sp => KernelPluginFactory.CreateFromObject(
            sp.GetRequiredService<FewShotPlugin>(),
            sp.GetRequiredService<IOptions<FewShotOptions>>().Value.PluginName,
            sp.GetService<ILoggerFactory>()));
    }

    private static FewShotExampleStore CreateStore(FewShotOptions options)
    {
        var store = new FewShotExampleStore();
        if (!string.IsNullOrEmpty(options.ExamplesPath))
        {
            // Singleton factories are synchronous; reading a local file here has no synchronisation context to deadlock on.
            store.AddRange(FewShotExampleLoader.LoadFileAsync(options.ExamplesPath).GetAwaiter().GetResult());
        }

        return store;
    }

    private static IFewShotSelector CreateSelector(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<FewShotOptions>>().Value;
        var store = services.GetRequiredService<FewShotExampleStore>();
        IFewShotSelector selector = options.Selector switch
        {
            FewShotSelectorKind.Similarity => new SemanticSimilaritySelector(services.GetRequiredService<ExampleEmbeddingCache>()),
            FewShotSelectorKind.MaxMarginalRelevance => new MaxMarginalRelevanceSelector(services.GetRequiredService<ExampleEmbeddingCache>(), options.MmrLambda, options.MmrFetchCount),
            FewShotSelectorKind.Bm25 => new Bm25Selector(store),
            FewShotSelectorKind.Random => new RandomSelector(store, options.Seed),
            FewShotSelectorKind.Ensemble => new EnsembleSelector(new SemanticSimilaritySelector(services.GetRequiredService<ExampleEmbeddingCache>()), new Bm25Selector(store)),
            _ => throw new InvalidOperationException($"Unknown selector kind {options.Selector}."),
        };

        if (options.BalanceLabels)
        {
            selector = new LabelBalancedSelector(selector);
        }

        if (options.MaxExampleTokens is int budget)
        {
            var tokenizer = services.GetService<Tokenizer>()
                ?? throw new InvalidOperationException(
                    $"{nameof(FewShotOptions.MaxExampleTokens)} is set, which needs the model's Microsoft.ML.Tokenizers.Tokenizer in the services " +
                    "(LlmKit's runtime registers it; otherwise register one yourself).");
            selector = new TokenBudgetSelector(selector, tokenizer, budget, options.PerExampleOverheadTokens, logger: services.GetService<ILogger<TokenBudgetSelector>>());
        }

        return selector;
    }
}
