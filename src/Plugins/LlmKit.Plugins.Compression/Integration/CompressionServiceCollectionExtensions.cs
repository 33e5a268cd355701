using LlmKit.Plugins.Compression;
using LlmKit.Plugins.Compression.History;
using LlmKit.Plugins.Compression.Scoring;
using LlmKit.Scoring;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.ML.Tokenizers;
using Microsoft.SemanticKernel;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the prompt-compression plugin's services.</summary>
public static class CompressionServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="PromptCompressor"/>, the history reducers and <see cref="CompressionPlugin"/>.
    /// The compressor scores with the registered <see cref="ITokenScorer"/>; without one it falls back to a
    /// <see cref="StatisticalTokenScorer"/> over the registered <see cref="Tokenizer"/> (or a <see cref="WordTokenizer"/>),
    /// which is much weaker (see the docs). Counting uses the registered <see cref="Tokenizer"/> when there is one.
    /// A registered <c>IEmbeddingGenerator&lt;string, Embedding&lt;float&gt;&gt;</c> is handed to the compressor, so
    /// <see cref="SegmentRanking.Auto"/> ranks segments by embedding similarity with it.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">Optional configuration root; sections <c>LlmKit:Compression</c> and <c>LlmKit:Compression:History</c> are bound.</param>
    /// <param name="configure">Optional code configuration, applied after binding.</param>
    /// <returns><paramref name="services"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is null.</exception>
    public static IServiceCollection AddPromptCompression(this IServiceCollection services, IConfiguration? configuration = null, Action<PromptCompressionOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        OptionsBuilder<PromptCompressionOptions> compression = services.AddOptions<PromptCompressionOptions>();
        OptionsBuilder<HistoryReducerOptions> truncation = services.AddOptions<HistoryReducerOptions>();
        OptionsBuilder<SummarizingHistoryReducerOptions> summarizing = services.AddOptions<SummarizingHistoryReducerOptions>();
        OptionsBuilder<CompressingHistoryReducerOptions> compressing = services.AddOptions<CompressingHistoryReducerOptions>();
        if (configuration is not null)
        {
            compression.Bind(configuration.GetSection(PromptCompressionOptions.SectionName));
            truncation.Bind(configuration.GetSection(HistoryReducerOptions.SectionName));
            summarizing.Bind(configuration.GetSection(HistoryReducerOptions.SectionName));
            compressing.Bind(configuration.GetSection(HistoryReducerOptions.SectionName));
        }

        if (configure is not null)
        {
            compression.Configure(configure);
        }

        services.TryAddSingleton(sp =>
        {
            Tokenizer? tokenizer = sp.GetService<Tokenizer>();
            ITokenScorer scorer = sp.GetService<ITokenScorer>() ?? new StatisticalTokenScorer(tokenizer ?? new WordTokenizer());
            return new PromptCompressor(
                scorer,
                sp.GetService<IEmbeddingGenerator<string, Embedding<float>>>(),
                sp.GetRequiredService<IOptions<PromptCompressionOptions>>().Value,
                tokenizer,
                sp.GetService<ILogger<PromptCompressor>>());
        });
        services.TryAddSingleton(sp => new CompressionPlugin(sp.GetRequiredService<PromptCompressor>()));
        services.TryAddSingleton(sp => new TokenBudgetTruncationReducer(
            sp.GetRequiredService<PromptCompressor>().TargetTokenizer,
            sp.GetRequiredService<IOptions<HistoryReducerOptions>>().Value,
            sp.GetService<ILogger<TokenBudgetTruncationReducer>>()));
        services.TryAddSingleton(sp => new CompressingHistoryReducer(
            sp.GetRequiredService<PromptCompressor>(),
            sp.GetRequiredService<IOptions<CompressingHistoryReducerOptions>>().Value,
            sp.GetService<ILogger<CompressingHistoryReducer>>()));
        services.TryAddSingleton(sp => new SummarizingHistoryReducer(
            sp.GetService<IChatClient>() ?? throw new InvalidOperationException(
                "SummarizingHistoryReducer needs an IChatClient in the service collection to write summaries; register one or use TokenBudgetTruncationReducer / CompressingHistoryReducer."),
            sp.GetRequiredService<PromptCompressor>().TargetTokenizer,
            sp.GetRequiredService<IOptions<SummarizingHistoryReducerOptions>>().Value,
            sp.GetService<ILogger<SummarizingHistoryReducer>>()));
        return services;
    }

    /// <summary>Registers a <see cref="PromptCompressionFilter"/> (an <see cref="IPromptRenderFilter"/>) compressing rendered prompts over <paramref name="maxPromptTokens"/>.</summary>
    /// <param name="services">The service collection (call <c>AddPromptCompression</c> too).</param>
    /// <param name="maxPromptTokens">The prompt budget, at least 16.</param>
    /// <returns><paramref name="services"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxPromptTokens"/> is less than 16.</exception>
    public static IServiceCollection AddPromptCompressionFilter(this IServiceCollection services, int maxPromptTokens)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPromptTokens, 16);
        services.AddSingleton<IPromptRenderFilter>(sp => new PromptCompressionFilter(
            sp.GetRequiredService<PromptCompressor>(), maxPromptTokens, sp.GetService<ILogger<PromptCompressionFilter>>()));
        return services;
    }

    /// <summary>Registers the compression services on a kernel builder and adds <see cref="CompressionPlugin"/> as plugin <c>compression</c>.</summary>
    /// <param name="builder">The kernel builder.</param>
    /// <param name="configuration">Optional configuration root (see <see cref="AddPromptCompression(IServiceCollection, IConfiguration?, Action{PromptCompressionOptions}?)"/>).</param>
    /// <param name="configure">Optional code configuration.</param>
    /// <returns><paramref name="builder"/>.</returns>
    public static IKernelBuilder AddPromptCompression(this IKernelBuilder builder, IConfiguration? configuration = null, Action<PromptCompressionOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddPromptCompression(configuration, configure);
        if (!builder.Services.Any(d => d.ServiceType == typeof(PluginRegistered)))
        {
            // Once per kernel: a second call must not add a second plugin with the same name.
            builder.Services.AddSingleton<PluginRegistered>();
            builder.Services.AddSingleton(sp => KernelPluginFactory.CreateFromObject(sp.GetRequiredService<CompressionPlugin>(), CompressionPlugin.PluginName));
        }

        return builder;
    }

    /// <summary>Marks a service collection whose kernel already has the compression plugin.</summary>
    private sealed class PluginRegistered;
}
