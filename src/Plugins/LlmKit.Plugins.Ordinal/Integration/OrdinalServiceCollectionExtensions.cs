using LlmKit.Embeddings;
using LlmKit.Plugins.Ordinal.Persistence;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.SemanticKernel;

namespace LlmKit.Plugins.Ordinal.Integration;

/// <summary>
/// Registers an <see cref="OrdinalClassifier"/>, its <see cref="OrdinalClassifierPlugin"/> and the plugin as a
/// <see cref="KernelPlugin"/> (so a kernel built from the same services sees it). The classifier uses the
/// registered <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> of strings, or a
/// <see cref="HashingEmbeddingGenerator"/> of the model's width when none is registered or the registered one's
/// vectors have another width than the model takes (logged as a warning).
/// </summary>
public static class OrdinalServiceCollectionExtensions
{
    /// <summary>Adds a classifier whose options (model path, plugin name) are bound from <paramref name="configuration"/>.</summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">A section with "ModelPath" and optionally "PluginName", e.g. <c>configuration.GetSection("LlmKit:Ordinal")</c>.</param>
    public static IServiceCollection AddOrdinalClassifier(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.Configure<OrdinalClassifierOptions>(configuration);
        return services.AddFromOptions();
    }

    /// <summary>Adds a classifier configured in code.</summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets <see cref="OrdinalClassifierOptions.ModelPath"/> and optionally the plugin name.</param>
    public static IServiceCollection AddOrdinalClassifier(this IServiceCollection services, Action<OrdinalClassifierOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.Configure(configure);
        return services.AddFromOptions();
    }

    /// <summary>Adds a classifier over an in-memory model (e.g. one just trained with <see cref="OrdinalClassifierBuilder"/>).</summary>
    /// <param name="services">The services.</param>
    /// <param name="model">The model.</param>
    /// <param name="pluginName">Name of the kernel plugin (letters, digits, underscores). Default "ordinal".</param>
    public static IServiceCollection AddOrdinalClassifier(this IServiceCollection services, OrdinalModel model, string pluginName = "ordinal")
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(model);
        var options = new OrdinalClassifierOptions { ModelPath = "(in memory)", PluginName = pluginName };
        options.Validate();
        services.TryAddSingleton(model);
        services.Configure<OrdinalClassifierOptions>(o => o.PluginName = pluginName);
        return services.AddShared();
    }

    /// <summary>Adds a classifier bound from <paramref name="configuration"/> to the kernel's services.</summary>
    /// <param name="builder">The kernel builder.</param>
    /// <param name="configuration">A section with "ModelPath" and optionally "PluginName".</param>
    public static IKernelBuilder AddOrdinalClassifier(this IKernelBuilder builder, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOrdinalClassifier(configuration);
        return builder;
    }

    /// <summary>Adds a classifier configured in code to the kernel's services.</summary>
    /// <param name="builder">The kernel builder.</param>
    /// <param name="configure">Sets the model path and optionally the plugin name.</param>
    public static IKernelBuilder AddOrdinalClassifier(this IKernelBuilder builder, Action<OrdinalClassifierOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOrdinalClassifier(configure);
        return builder;
    }

    /// <summary>Adds a classifier over an in-memory model to the kernel's services.</summary>
    /// <param name="builder">The kernel builder.</param>
    /// <param name="model">The model.</param>
    /// <param name="pluginName">Name of the kernel plugin. Default "ordinal".</param>
    public static IKernelBuilder AddOrdinalClassifier(this IKernelBuilder builder, OrdinalModel model, string pluginName = "ordinal")
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOrdinalClassifier(model, pluginName);
        return builder;
    }

    private static IServiceCollection AddFromOptions(this IServiceCollection services)
    {
        services.TryAddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<OrdinalClassifierOptions>>().Value;
            options.Validate();
            return OrdinalModelSerializer.LoadFromFile(options.ModelPath!);
        });
        return services.AddShared();
    }

    private static IServiceCollection AddShared(this IServiceCollection services)
    {
        services.TryAddSingleton(sp =>
        {
            var model = sp.GetRequiredService<OrdinalModel>();
            var logger = sp.GetService<ILogger<OrdinalClassifier>>();
            var registered = sp.GetService<IEmbeddingGenerator<string, Embedding<float>>>();
            int? registeredDimensions = registered?.GetService<EmbeddingGeneratorMetadata>()?.DefaultModelDimensions;
            IEmbeddingGenerator<string, Embedding<float>> embeddings;
            if (registered is not null && (registeredDimensions is null || registeredDimensions == model.InputDimension))
            {
                embeddings = registered;
            }
            else
            {
                // No generator, or one of another width (e.g. a sentence encoder registered for other plugins while this
                // head was trained on hashing features): the head's own width of hashing features.
                if (registered is not null)
                {
                    logger?.LogWarning(
                        "The registered embedding generator makes {Registered}-dimensional vectors but the ordinal head takes {Head}; the head uses hashing features of its width.",
                        registeredDimensions, model.InputDimension);
                }

                embeddings = new HashingEmbeddingGenerator(new HashingEmbeddingOptions { Dimensions = model.InputDimension });
            }

            return new OrdinalClassifier(embeddings, model, logger);
        });
        services.TryAddSingleton<OrdinalClassifierPlugin>();
        services.AddSingleton(sp => KernelPluginFactory.CreateFromObject(
            sp.GetRequiredService<OrdinalClassifierPlugin>(),
            sp.GetRequiredService<IOptions<OrdinalClassifierOptions>>().Value.PluginName));
        return services;
    }
}
