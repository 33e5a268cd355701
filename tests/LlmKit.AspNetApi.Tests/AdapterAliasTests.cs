using System.Text.Json;
using LlmKit.Samples.AspNetApi;
using LlmKit.Samples.AspNetApi.OpenAI;

namespace LlmKit.AspNetApi.Tests;

/// <summary>The OpenAI <c>model</c> field selects a LoRA adapter as "{served id}+{adapter}"; anything else unknown is 404.</summary>
public sealed class AdapterAliasTests
{
    private static ChatCompletionRequest Request(string model) => new()
    {
        Model = model,
        Messages = [new ChatMessageDto { Role = "user", Content = JsonSerializer.SerializeToElement("Hi") }],
    };

    [Fact]
    public void The_alias_of_a_loaded_adapter_sets_the_adapter_property()
    {
        var mapped = ChatRequestMapper.Map(Request("stories+tales"), "stories", 64, ["tales", "poems"]);

        Assert.Equal("tales", mapped.Options.AdditionalProperties?["adapter"]);
        Assert.Equal("stories", mapped.Options.ModelId);
    }

    [Fact]
    public void The_served_model_runs_without_an_adapter()
    {
        var mapped = ChatRequestMapper.Map(Request("stories"), "stories", 64, ["tales"]);

        Assert.Null(mapped.Options.AdditionalProperties);
    }

    [Theory]
    [InlineData("stories+missing")]
    [InlineData("other+tales")]
    [InlineData("tales")]
    public void Unknown_aliases_are_404_naming_the_alias_form(string model)
    {
        var e = Assert.Throws<ApiException>(() => ChatRequestMapper.Map(Request(model), "stories", 64, ["tales"]));

        Assert.Equal(404, e.StatusCode);
        Assert.Contains("stories+NAME", e.Message);
    }

    [Fact]
    public void The_model_list_names_the_base_and_every_alias()
    {
        Assert.Equal(["stories", "stories+a", "stories+b"], ChatRequestMapper.ModelIds("stories", ["b", "a"]));
    }
}
